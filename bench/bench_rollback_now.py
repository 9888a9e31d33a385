"""Wall time of ``runbook rollback now`` as a process, next to ``python -c pass``.

Seed 000's immediate rollback must be immediate: the command imports no
Jupyter, torch, SB3 or matplotlib. Both commands run interleaved, 20 times
each, on a materialized sandbox reset between runs; the medians and their
ratio are printed. Target: under 300 ms.

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

TARGET_MS = 300.0


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
        now_ms: list[float] = []
        bare_ms: list[float] = []
        for _ in range(args.runs):
            reset(workspace)
            now_ms.append(timed(now))
            bare_ms.append(timed(bare))
        reset(workspace)
    median_now, median_bare = statistics.median(now_ms), statistics.median(bare_ms)
    print(
        f"runbook rollback now : median {median_now:6.1f} ms over {args.runs} runs "
        f"(min {min(now_ms):.1f}, max {max(now_ms):.1f})"
    )
    print(f"python -c pass       : median {median_bare:6.1f} ms")
    print(f"ratio                : {median_now / median_bare:.2f}x python start-up")
    verdict = "OK" if median_now < TARGET_MS else "MISSED"
    print(f"target               : < {TARGET_MS:.0f} ms -> {verdict}")
    return 0 if median_now < TARGET_MS * 1.5 else 1


if __name__ == "__main__":
    sys.exit(main())
