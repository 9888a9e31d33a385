"""Inject drill faults into a sandbox workspace's ``config.ini`` ``[faults]`` section.

The workspace's UnifiedSimEnv reads these keys when ``create_sim_env`` builds
it (the legacy env ignores them, as a real regression in the new env would
behave). Edits go line by line, so comments and layout survive, and through an
atomic write, so a crash leaves the old file or the new one.

The rules here mirror the workspace's ``src/rl/envs/faults.py``; the runbook
core never imports workspace code, so the two are kept in step by the sandbox
tests.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from runbook_lib.base.errors import InvalidInputError, WorkspaceError
from runbook_lib.base.fsutil import atomic_write_text
from runbook_lib.target.inifile import read_value, set_value

CONFIG_FILE = "config.ini"
# The foreign profile's lightpath reads the same [faults] keys from its experiment file.
FOREIGN_CONFIG_FILE = "experiment.ini"
SECTION = "faults"

FaultValue = float | int


@dataclass(frozen=True)
class _Fault:
    parse: Callable[[str], FaultValue]
    accepted: str
    off: FaultValue


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(text)
    return value


def _factor(text: str) -> float:
    value = _finite(text)
    if value < 1.0:
        raise ValueError(text)
    return value


def _std(text: str) -> float:
    value = _finite(text)
    if value < 0.0:
        raise ValueError(text)
    return value


def _step(text: str) -> int:
    value = int(text)
    if value < 0:
        raise ValueError(text)
    return value


_FAULTS: dict[str, _Fault] = {
    "reward_bias": _Fault(_finite, "a finite number added to every reward (0 = off)", 0.0),
    "slowdown": _Fault(_factor, "a step-time factor >= 1.0 (1.0 = off)", 1.0),
    "crash_at_step": _Fault(_step, "a step number >= 1 that raises (0 = off)", 0),
    "empty_mask_at_step": _Fault(_step, "a step number >= 1 with an empty mask (0 = off)", 0),
    "obs_noise": _Fault(_std, "a noise standard deviation >= 0 (0 = off)", 0.0),
}
FAULT_KEYS: tuple[str, ...] = tuple(_FAULTS)
OFF_VALUES: dict[str, FaultValue] = {key: fault.off for key, fault in _FAULTS.items()}


def _fault(key: str) -> _Fault:
    try:
        return _FAULTS[key]
    except KeyError:
        raise InvalidInputError(
            f"unknown fault {key!r}", hint=f"known faults: {', '.join(FAULT_KEYS)}"
        ) from None


def parse_fault(key: str, value: object) -> FaultValue:
    """Validate one fault value (a number, or its text) and return it typed.

    Raises:
        InvalidInputError: unknown key, or a value the key does not accept.
    """
    fault = _fault(key)
    text = "" if value is None else str(value).strip()
    if isinstance(value, bool) or not isinstance(value, int | float | str) or not text:
        raise InvalidInputError(
            f"fault {key}={value!r} is not valid", hint=f"expected {fault.accepted}"
        )
    try:
        return fault.parse(text)
    except ValueError:
        raise InvalidInputError(
            f"fault {key}={value!r} is not valid", hint=f"expected {fault.accepted}"
        ) from None


def _config_path(workspace: Path) -> Path:
    path = workspace / CONFIG_FILE
    if not path.is_file() and (workspace / FOREIGN_CONFIG_FILE).is_file():
        path = workspace / FOREIGN_CONFIG_FILE
    if not path.is_file():
        raise WorkspaceError(
            f"{path} does not exist",
            hint="faults go into a sandbox's config.ini; make one with `runbook sandbox create`",
        )
    return path


def _write(workspace: Path, values: dict[str, FaultValue]) -> None:
    path = _config_path(workspace)
    original = path.read_text(encoding="utf-8")
    text = original
    for key, value in values.items():
        text = set_value(text, SECTION, key, str(value))
    if text != original:
        atomic_write_text(path, text)


def set_faults(workspace: Path, **values: object) -> None:
    """Set the named faults in ``workspace/config.ini`` ``[faults]``; others stay as they are.

    Every value is checked before the file is touched.

    Raises:
        InvalidInputError: no fault named, an unknown fault, or an invalid value.
        WorkspaceError: the workspace has no ``config.ini``.
    """
    if not values:
        raise InvalidInputError("no fault given", hint=f"name one of: {', '.join(FAULT_KEYS)}")
    parsed = {key: parse_fault(key, value) for key, value in values.items()}
    _write(workspace, parsed)


def clear_faults(workspace: Path) -> None:
    """Turn every fault off (keys present in ``[faults]`` are set to their off value).

    A ``config.ini`` without a ``[faults]`` section (release v1.0) is left untouched.

    Raises:
        WorkspaceError: the workspace has no ``config.ini``.
    """
    text = _config_path(workspace).read_text(encoding="utf-8")
    present = {
        key: OFF_VALUES[key]
        for key in FAULT_KEYS
        if read_value(text, SECTION, key).value is not None
    }
    _write(workspace, present)


def read_faults(workspace: Path) -> dict[str, FaultValue]:
    """Every fault's value in ``workspace/config.ini`` (absent or empty = its off value).

    Raises:
        InvalidInputError: a value in the file is invalid (naming the key).
        WorkspaceError: the workspace has no ``config.ini``.
    """
    text = _config_path(workspace).read_text(encoding="utf-8")
    values: dict[str, FaultValue] = {}
    for key in FAULT_KEYS:
        raw = read_value(text, SECTION, key).value
        values[key] = OFF_VALUES[key] if not raw else parse_fault(key, raw)
    return values


def active_faults(workspace: Path) -> dict[str, FaultValue]:
    """The faults of ``workspace`` that are on (differ from their off value)."""
    return {key: value for key, value in read_faults(workspace).items() if value != OFF_VALUES[key]}
