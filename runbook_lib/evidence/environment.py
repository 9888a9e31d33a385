"""The environment a seal records: versions, ``pip freeze``, user, host, SB3's system info."""

from __future__ import annotations

import getpass
import os
import re
import sys
from typing import Any

from runbook_lib.evidence import sb3info

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


def sb3_system_info() -> dict[str, str] | None:
    """SB3's ``get_system_info`` of this interpreter (None: no SB3), as :mod:`.sb3info` keeps it."""
    return sb3info.sb3_system_info(installed_distributions())


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
        facts["sb3_system_info"] = sb3info.sb3_system_info(facts["pip_freeze"])
    return facts
