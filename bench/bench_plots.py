"""What saving the parity plots costs: the import of the plots module, and ``save_all``.

Each repeat runs in a fresh process (the import is part of the drill's cost),
on a report the size of the drill's (8 episodes of 100 steps, one divergence).
Medians are printed (wall, and CPU time for save_all, which a busy machine
disturbs less), with the time of each plot.

Usage: python bench/bench_plots.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

_CHILD = r"""
import json, sys, tempfile, time
from pathlib import Path
began = time.perf_counter()
from runbook_lib.parity import plots
imported = time.perf_counter() - began
import numpy as np
from runbook_lib.parity.engine import build_report
from runbook_lib.parity.lockstep import EpisodeRecord, ParitySpec

rng = np.random.default_rng(0)
records = []
for episode in range(8):
    rewards = rng.choice([1.0, -1.0], p=[0.9, 0.1], size=100)
    blocking = float((rewards < 0).mean())
    records.append(EpisodeRecord(
        episode=episode, seed=episode, length=100,
        legacy_reward=float(rewards.sum()), candidate_reward=float(rewards.sum() - 20),
        legacy_info={"blocking_probability": blocking},
        candidate_info={"blocking_probability": blocking + 0.01},
        agreeing_steps=0,
        first_divergence={"episode": 0, "step": 1, "field": "reward",
                          "legacy": 1.0, "candidate": 0.8},
        legacy_seconds=0.01, candidate_seconds=0.015,
        reward_gap=np.cumsum(np.full(100, 0.2)).tolist(),
        mask_valid=rng.integers(0, 4, size=100).tolist(),
    ))
report = build_report(ParitySpec(root=".", factory="m:f", seeds=tuple(range(8))), records)
each = {}
with tempfile.TemporaryDirectory() as out:
    began, cpu = time.perf_counter(), time.process_time()
    for name, make in plots.PLOTS.items():
        start = time.perf_counter()
        plots.save_all(report, Path(out), skip=frozenset(plots.PLOTS) - {name})
        each[name] = time.perf_counter() - start
    saved, cpu = time.perf_counter() - began, time.process_time() - cpu
print(json.dumps({"import": imported, "save_all": saved, "save_all_cpu": cpu, "each": each}))
"""


def _once() -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", _CHILD], check=True, capture_output=True, text=True
    )
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main() -> None:
    """Print the medians of a few fresh-process runs."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    runs = [_once() for _ in range(parser.parse_args().repeats)]
    for key in ("import", "save_all", "save_all_cpu"):
        times = [float(str(run[key])) for run in runs]
        print(f"{key:<16} median {statistics.median(times):6.2f} s  {[round(t, 2) for t in times]}")
    for name in dict(runs[0]["each"]):  # type: ignore[call-overload]
        times = [float(dict(run["each"])[name]) for run in runs]  # type: ignore[call-overload]
        print(f"  {name:<14} median {statistics.median(times):6.3f} s")


if __name__ == "__main__":
    main()
