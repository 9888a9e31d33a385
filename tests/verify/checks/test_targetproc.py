"""A check's child process: its exit, its output, and a process it leaves holding the output."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

from runbook_lib.target.manifest import load_manifest
from runbook_lib.verify.checks.targetproc import HELD_NOTE, run_target

# Starts a process that inherits stdout and outlives it (a server a test suite forgot).
LEAVES_A_PROCESS = (
    "import subprocess, sys\n"
    "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
    "print('left', child.pid, flush=True)\n"
    "sys.stderr.write('bye\\r\\n')\n"
)


def test_output_and_exit_code_as_text(sandbox: Path) -> None:
    code = "import sys; print('a\\r\\nb'); sys.stderr.write('oops\\n'); sys.exit(3)"
    run = run_target(load_manifest(sandbox), [sys.executable, "-c", code], timeout=60)
    assert (run.returncode, run.stdout, run.stderr) == (3, "a\nb\n", "oops\n")
    assert "output_held_open" not in run.evidence()


def test_a_process_left_holding_the_output_does_not_hold_the_check(sandbox: Path) -> None:
    run = run_target(load_manifest(sandbox), [sys.executable, "-c", LEAVES_A_PROCESS], timeout=60)
    pid = int(run.stdout.split()[1])
    try:
        # The check ended while the process it left was still running.
        os.kill(pid, 0)
        assert run.returncode == 0
        assert run.stderr == "bye\n"
        assert run.evidence()["output_held_open"] == HELD_NOTE
    finally:
        os.kill(pid, signal.SIGKILL)


def test_past_the_timeout_the_command_is_killed(sandbox: Path) -> None:
    code = "import time; print('started', flush=True); time.sleep(60)"
    run = run_target(load_manifest(sandbox), [sys.executable, "-c", code], timeout=1)
    assert run.returncode is None
    assert run.stdout == "started\n"
    assert "timed out after" in run.failure()
