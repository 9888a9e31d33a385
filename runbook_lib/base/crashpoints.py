"""Crash injection for tests: die by SIGKILL at the N-th side-effect point.

Every place where a rollback changes something outside its own journal calls
:func:`reach`. With ``RUNBOOK_CRASH_AT=N`` in the environment, the N-th call
(1-based, counted per process) kills the process with SIGKILL, exactly as a
power cut or an OOM kill would; ``RUNBOOK_CRASH_LOG=FILE`` appends the label of
every point reached, so a test knows how many points a run has. With
``RUNBOOK_PAUSE_AT=N`` and ``RUNBOOK_PAUSE_FILE=PATH``, the N-th point waits
until PATH exists, so a test can hold a process in the middle of an operation
(holding the target's lock) without sleeping for a guessed time.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

_reached = 0


def reach(label: str) -> None:
    """Mark a side-effect point; crash here when the environment says so."""
    global _reached  # noqa: PLW0603 - one counter per process, by design
    _reached += 1
    log = os.environ.get("RUNBOOK_CRASH_LOG")
    if log:
        with open(log, "a", encoding="utf-8") as handle:
            handle.write(f"{_reached}\t{label}\n")
    target = os.environ.get("RUNBOOK_CRASH_AT")
    if target and int(target) == _reached:
        os.kill(os.getpid(), signal.SIGKILL)
    pause = os.environ.get("RUNBOOK_PAUSE_AT")
    if pause and int(pause) == _reached:
        release = Path(os.environ["RUNBOOK_PAUSE_FILE"])
        deadline = time.monotonic() + 120
        while not release.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
