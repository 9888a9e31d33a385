"""SB3's ``get_system_info`` for a seal's environment facts: asked once per machine state.

Asking it imports SB3, torch and gymnasium: 2-3 s of CPU in a child process,
which every ``runbook run`` and every process's first full seal waited for.
The answer depends only on the interpreter, the packages it sees, the
variables that choose the GPUs, and the machine as booted, so it is kept in
the runbook's cache (:func:`~runbook_lib.base.cachedir.default_cache_dir`)
under a digest of exactly those, and asked again when any of them changes:
another install, another ``CUDA_VISIBLE_DEVICES``, a reboot (a new
``boot_id``, as after a driver or hardware change).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import threading
from pathlib import Path

from runbook_lib.base.cachedir import default_cache_dir
from runbook_lib.base.fsutil import atomic_write_text

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
# What torch reads to decide which GPUs it sees ("GPU Enabled" in the info).
_GPU_VARIABLES = (
    "CUDA_VISIBLE_DEVICES",
    "NVIDIA_VISIBLE_DEVICES",
    "HIP_VISIBLE_DEVICES",
    "ROCR_VISIBLE_DEVICES",
    "CUDA_DEVICE_ORDER",
)
_BOOT_ID = Path("/proc/sys/kernel/random/boot_id")
_CACHE_VERSION = 1

_lock = threading.Lock()
_known: dict[tuple[str, ...], dict[str, str] | None] = {}


def _in_process() -> dict[str, str] | None:
    try:
        from stable_baselines3.common.utils import get_system_info
    except ImportError:
        return None
    info: dict[str, str] = get_system_info(print_info=False)[0]
    return info


def _from_child(path: list[str]) -> dict[str, str] | None:
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
        return _in_process()
    if info is None:
        return None
    if not isinstance(info, dict):
        return _in_process()
    return {str(k): str(v) for k, v in info.items()}


def _machine_key(path: list[str], installed: list[str]) -> str:
    """A digest of everything the answer depends on (see the module's docstring)."""
    executable = os.path.realpath(sys.executable)
    try:
        stat = os.stat(executable)
        built: list[int] = [stat.st_ino, stat.st_size, stat.st_mtime_ns]
    except OSError:
        built = []
    try:
        boot = _BOOT_ID.read_text(encoding="ascii").strip()
    except OSError:
        boot = ""  # no boot id here: the other parts still tell installs apart
    parts = {
        "version": _CACHE_VERSION,
        "executable": [executable, *built],
        "sys_path": path,
        "installed": installed,
        "gpu_variables": {name: os.environ.get(name) for name in _GPU_VARIABLES},
        "uname": list(os.uname()),
        "boot_id": boot,
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def _cache_file(key: str) -> Path:
    return default_cache_dir() / "sb3-system-info" / f"{key}.json"


def _read_cached(file: Path) -> tuple[bool, dict[str, str] | None]:
    """(found, info): ``found`` is False when the file is missing or not one of ours."""
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False, None
    if not isinstance(data, dict) or "info" not in data:
        return False, None
    info = data["info"]
    if info is None:
        return True, None  # this interpreter has no SB3
    if not isinstance(info, dict):
        return False, None
    return True, {str(k): str(v) for k, v in info.items()}


def _asked(path: list[str], installed: list[str]) -> dict[str, str] | None:
    if "stable_baselines3" in sys.modules:
        return _in_process()  # already paid for here
    file = _cache_file(_machine_key(path, installed))
    found, info = _read_cached(file)
    if found:
        return info
    info = _from_child(path)
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps({"info": info}, sort_keys=True) + "\n"
        # Not flushed to disk: a cache lost in a crash costs one more child, no evidence.
        atomic_write_text(file, text, durable=False)
    except OSError:
        pass  # a cache that cannot be written only costs the next process the child
    return info


def sb3_system_info(installed: list[str]) -> dict[str, str] | None:
    """SB3's ``get_system_info`` of this interpreter (None: no SB3).

    ``installed`` is this interpreter's ``pip freeze`` (part of the cache key).
    Worked out once per process, and read from the cache when the machine's
    state is the one it was asked in. When SB3 is not imported here, it is
    asked of a child of this interpreter with this ``sys.path``: the import
    takes no time from this process and leaves its environment alone
    (gymnasium sets ``PYGAME_HIDE_SUPPORT_PROMPT`` on import, so a kernel
    started ahead with the environment of before would no longer fit).
    """
    key = tuple(sys.path)
    with _lock:
        if key not in _known:
            _known[key] = _asked(list(key), installed)
        known = _known[key]
    return dict(known) if known is not None else None
