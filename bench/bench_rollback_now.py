"""Wall time of ``runbook rollback now`` and ``runbook --help``, next to ``python -c pass``.

Seed 000's immediate rollback must be immediate: the command imports no
Jupyter, torch, SB3 or matplotlib, and the CLI loads only the subcommand it
runs. The three commands run interleaved, 20 times each (the rollback on a
materialized sandbox reset between runs); the medians and their ratios to
``python -c pass`` are printed. Goals: rollback now <= 3x, --help <= 2.5x.

Usage: python bench/bench_rollback_now.py [--runs 20] [--workspace DIR]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from runbook_lib.sandbox import create_workspace

NOW_GOAL = 3.0
HELP_GOAL = 2.5


def timed(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return (time.perf_counter() - start) * 1000.0


def reset(workspace: Path) -> None:
    subprocess.run(["git", "-C", str(workspace), "checkout", "-q", "--", "config.ini"], check=True)
    (workspace / ".runbook" / "rollback.env").unlink(missing_ok=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--workspace", type=Path, default=None)
    args = parser.parse_args()
    # Measure the installed tool: a wheel install has bytecode; an editable one
    # gets it here (Makefile's 'bytecode' target does the same).
    compile_all = [sys.executable, "-m", "compileall", "-q", "-x", "sandbox/files", "runbook_lib"]
    subprocess.run(compile_all, check=True)
    with tempfile.TemporaryDirectory(prefix="bench-now-") as tmp:
        workspace = args.workspace or create_workspace(Path(tmp) / "ws").root
        archive = Path(tmp) / "archive"
        now = [
            sys.executable,
            "-m",
            "runbook_lib.app.cli",
            "rollback",
            "now",
            "--yes",
            "--target",
            str(workspace),
            "--archive",
            str(archive),
        ]
        bare = [sys.executable, "-c", "pass"]
        help_ = [sys.executable, "-m", "runbook_lib.app.cli", "--help"]
        now_ms: list[float] = []
        help_ms: list[float] = []
        bare_ms: list[float] = []
        for _ in range(args.runs):
            reset(workspace)
            now_ms.append(timed(now))
            help_ms.append(timed(help_))
            bare_ms.append(timed(bare))
        reset(workspace)
    bare_median = statistics.median(bare_ms)
    print(f"python -c pass       : median {bare_median:6.1f} ms over {args.runs} runs")
    missed = 0
    for name, times, goal in (
        ("runbook rollback now", now_ms, NOW_GOAL),
        ("runbook --help", help_ms, HELP_GOAL),
    ):
        median = statistics.median(times)
        ratio = median / bare_median
        verdict = "OK" if ratio <= goal else "MISSED"
        missed += verdict == "MISSED"
        print(
            f"{name:<21}: median {median:6.1f} ms (min {min(times):.1f}, max {max(times):.1f})"
            f"  ratio {ratio:.2f}x  goal <= {goal}x -> {verdict}"
        )
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
