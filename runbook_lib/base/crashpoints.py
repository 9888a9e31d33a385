"""Crash injection for tests: die by SIGKILL at the N-th side-effect point.

Every place where a rollback changes something outside its own journal calls
:func:`reach`. With ``RUNBOOK_CRASH_AT=N`` in the environment, the N-th call
(1-based, counted per process) kills the process with SIGKILL, exactly as a
power cut or an OOM kill would; ``RUNBOOK_CRASH_LOG=FILE`` appends the label of
every point reached, so a test knows how many points a run has. With
``RUNBOOK_PAUSE_AT=N`` and ``RUNBOOK_PAUSE_FILE=PATH``, the N-th point waits
until PATH exists, so a test can hold a process in the middle of an operation
(holding the target's lock) without sleeping for a guessed time.

A stray variable in an operator's shell must never kill a real rollback, so
the hooks are inert unless a second, independent switch is set too: the
marker file :data:`MARKER` in the target that took the lock (:func:`arm`),
which only a test creates.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

MARKER = ".runbook/crashpoints-test-only"
_VARIABLES = ("RUNBOOK_CRASH_AT", "RUNBOOK_CRASH_LOG", "RUNBOOK_PAUSE_AT")
_reached = 0
_armed: Path | None = None


def arm(root: Path) -> None:
    """Name the target this process works on (its lock's); its marker file enables the hooks."""
    global _armed  # noqa: PLW0603 - one target per process, by design
    _armed = root


def enabled() -> bool:
    """Whether the test-only marker exists in the armed target."""
    return _armed is not None and (_armed / MARKER).is_file()


def reach(label: str) -> None:
    """Mark a side-effect point; crash here when the environment says so."""
    global _reached  # noqa: PLW0603 - one counter per process, by design
    if not any(os.environ.get(name) for name in _VARIABLES) or not enabled():
        return
    _reached += 1
    log = os.environ.get("RUNBOOK_CRASH_LOG")
    if log:
        with open(log, "a", encoding="utf-8") as handle:
            handle.write(f"{_reached}\t{label}\n")
    target = os.environ.get("RUNBOOK_CRASH_AT")
    if target and int(target) == _reached:
        import signal  # only a crash test gets here: 'rollback now' does not pay for it

        os.kill(os.getpid(), signal.SIGKILL)
    pause = os.environ.get("RUNBOOK_PAUSE_AT")
    if pause and int(pause) == _reached:
        release = Path(os.environ["RUNBOOK_PAUSE_FILE"])
        deadline = time.monotonic() + 120
        while not release.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
