"""The environment a seal records: versions, ``pip freeze``, user, host, SB3's system info."""

from __future__ import annotations

import getpass
import json
import os
import re
import sys
import threading
from typing import Any

_VERSIONED = (
    "python",
    "runbook",
    "papermill",
    "nbclient",
    "nbformat",
    "gymnasium",
    "stable-baselines3",
    "torch",
    "numpy",
)


def _normalized(name: str) -> str:
    # Distribution names as .dist-info directories spell them (PEP 503, then "_").
    return re.sub(r"[-_.]+", "_", name).lower()


def _dist_infos() -> list[tuple[str, str]]:
    """(project, version) of every ``.dist-info`` directory on ``sys.path``, in path order."""
    found: list[tuple[str, str]] = []
    for entry in sys.path:
        try:
            names = sorted(os.listdir(entry or "."))
        except OSError:
            continue
        for name in names:
            if name.endswith(".dist-info"):
                project, _, version = name[: -len(".dist-info")].partition("-")
                if version:
                    found.append((project, version))
    return found


def _versions(found: list[tuple[str, str]]) -> dict[str, str | None]:
    """The versions of :data:`_VERSIONED`, the first on ``sys.path`` winning.

    Read from the directory names, as ``importlib.metadata.version`` would find
    them, without importing it (and the email parser) or parsing any METADATA:
    a seal runs in every ``runbook rollback now``.
    """
    first: dict[str, str] = {}
    for project, version in found:
        first.setdefault(_normalized(project), version)
    versions: dict[str, str | None] = {"python": python_version()}
    versions.update({name: first.get(_normalized(name)) for name in _VERSIONED if name != "python"})
    return versions


def python_version() -> str:
    """What ``platform.python_version()`` says (the first word of ``sys.version``)."""
    return sys.version.split()[0]


def platform_name() -> str:
    """What ``platform.platform()`` says, without its ``uname -p`` subprocess on Linux.

    ``platform()`` asks ``uname -p`` for the processor (a fork, an exec and the
    import of :mod:`subprocess`: more than a ``rollback now`` itself takes). On
    Linux that answers ``unknown`` (GNU coreutils) or the machine (Fedora's
    patch), and ``platform()`` leaves both out; the rest is ``os.uname()`` and
    the C library's ``confstr``, read here as ``platform()`` reads them.
    Elsewhere ``platform.platform()`` answers.
    """
    uname = os.uname()
    libc = os.confstr("CS_GNU_LIBC_VERSION") if "CS_GNU_LIBC_VERSION" in os.confstr_names else None
    parts = (libc or "").split(maxsplit=1)
    if uname.sysname != "Linux" or len(parts) != 2:
        import platform

        return platform.platform()
    name = "-".join(p.strip() for p in (uname.sysname, uname.release, uname.machine, "with") if p)
    name = f"{name}-{parts[0]}{parts[1]}"
    for char in ' /\\:;"()':
        name = name.replace(char, "_" if char == " " else "-")
    name = name.replace("unknown", "")
    while "--" in name:
        name = name.replace("--", "-")
    return name.rstrip("-")


def installed_distributions() -> list[str]:
    """``pip freeze`` of this interpreter, read from the ``.dist-info`` directory names.

    Parsing every METADATA file takes a tenth of a second for a few hundred
    packages; the directory names carry the same name and version (PEP 376/491).
    """
    return _freeze(_dist_infos())


def _freeze(found: list[tuple[str, str]]) -> list[str]:
    return sorted({f"{project}=={version}" for project, version in found}, key=str.lower)


# Run by this interpreter with this process's sys.path: SB3's system info as JSON. Once
# printed, the child leaves without tearing down the torch it imported (1.5-2 s more).
_SYSTEM_INFO_CODE = """\
import json, os, sys
sys.path[:] = json.loads(sys.argv[1])
try:
    from stable_baselines3.common.utils import get_system_info
except ImportError:
    print("null")
else:
    print(json.dumps(get_system_info(print_info=False)[0]))
sys.stdout.flush()
os._exit(0)
"""
_SYSTEM_INFO_TIMEOUT_S = 120.0
_system_info_lock = threading.Lock()
_system_info: dict[tuple[str, ...], dict[str, str] | None] = {}


def _in_process_system_info() -> dict[str, str] | None:
    try:
        from stable_baselines3.common.utils import get_system_info
    except ImportError:
        return None
    info: dict[str, str] = get_system_info(print_info=False)[0]
    return info


def _child_system_info(path: list[str]) -> dict[str, str] | None:
    """Asked of a child of this interpreter; falls back to this process if the child fails."""
    import subprocess

    try:
        done = subprocess.run(
            [sys.executable, "-c", _SYSTEM_INFO_CODE, json.dumps(path)],
            capture_output=True,
            text=True,
            timeout=_SYSTEM_INFO_TIMEOUT_S,
            check=True,
        )
        lines = done.stdout.strip().splitlines()
        info = json.loads(lines[-1]) if lines else None
    except (OSError, subprocess.SubprocessError, ValueError):
        return _in_process_system_info()
    if info is None:
        return None
    if not isinstance(info, dict):
        return _in_process_system_info()
    return {str(k): str(v) for k, v in info.items()}


def sb3_system_info() -> dict[str, str] | None:
    """SB3's ``get_system_info`` of this interpreter (None: no SB3), worked out once a process.

    When SB3 is not imported here yet it is asked of a child process of this
    interpreter with this ``sys.path``: the import (torch and gymnasium, 2-3 s of
    CPU) takes no time from this process, and leaves its environment alone
    (gymnasium sets ``PYGAME_HIDE_SUPPORT_PROMPT`` on import, so a kernel started
    ahead with the environment of before no longer fitted the next run).
    """
    key = tuple(sys.path)
    with _system_info_lock:
        if key not in _system_info:
            in_process = "stable_baselines3" in sys.modules
            found = _in_process_system_info() if in_process else _child_system_info(list(key))
            _system_info[key] = found
        cached = _system_info[key]
    return dict(cached) if cached is not None else None


def environment_facts(*, with_system_info: bool = True) -> dict[str, Any]:
    """Versions, ``pip freeze`` (from installed metadata), user, host and SB3's system info."""
    found = _dist_infos()
    facts: dict[str, Any] = {
        "versions": _versions(found),
        "pip_freeze": _freeze(found),
        "user": getpass.getuser(),
        "host": os.uname().nodename,  # what socket.gethostname() says, without importing socket
        "platform": platform_name(),
        "executable": sys.executable,
    }
    if with_system_info:
        facts["sb3_system_info"] = sb3_system_info()
    return facts
