"""The environment a seal records: versions, ``pip freeze``, user, host, SB3's system info."""

from __future__ import annotations

import getpass
import os
import platform
import socket
import sys
from importlib import metadata
from typing import Any

_VERSIONED = ("python", "runbook", "papermill", "nbclient", "nbformat", "gymnasium",
              "stable-baselines3", "torch", "numpy")  # fmt: skip


def _version(name: str) -> str | None:
    if name == "python":
        return platform.python_version()
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def installed_distributions() -> list[str]:
    """``pip freeze`` of this interpreter, read from the ``.dist-info`` directory names.

    Parsing every METADATA file takes a tenth of a second for a few hundred
    packages; the directory names carry the same name and version (PEP 376/491).
    """
    found: set[str] = set()
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue
        for name in names:
            if name.endswith(".dist-info"):
                project, _, version = name[: -len(".dist-info")].partition("-")
                if version:
                    found.add(f"{project}=={version}")
    return sorted(found, key=str.lower)


def environment_facts(*, with_system_info: bool = True) -> dict[str, Any]:
    """Versions, ``pip freeze`` (from installed metadata), user, host and SB3's system info."""
    freeze = installed_distributions()
    facts: dict[str, Any] = {
        "versions": {name: _version(name) for name in _VERSIONED},
        "pip_freeze": freeze,
        "user": getpass.getuser(),
        "host": socket.gethostname(),
        "platform": platform.platform(),
        "executable": sys.executable,
    }
    if with_system_info:
        try:
            from stable_baselines3.common.utils import get_system_info

            facts["sb3_system_info"] = get_system_info(print_info=False)[0]
        except ImportError:
            facts["sb3_system_info"] = None
    return facts
