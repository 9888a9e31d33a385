"""Crash injection for tests: die by SIGKILL at the N-th side-effect point.

Every place where a rollback changes something outside its own journal calls
:func:`reach`. With ``RUNBOOK_CRASH_AT=N`` in the environment, the N-th call
(1-based, counted per process) kills the process with SIGKILL, exactly as a
power cut or an OOM kill would; ``RUNBOOK_CRASH_LOG=FILE`` appends the label of
every point reached, so a test knows how many points a run has.
"""

from __future__ import annotations

import os
import signal

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
