"""A short legacy-vs-candidate smoke run in the target's own process.

Both envs are built through the target's factory entry point, reset with the
same seed and fed the same seeded random actions; the child process reports
whether every step agreed and each env's throughput. The full statistical
comparison is the parity engine's job; this answers "do both envs run and agree
on a handful of episodes?" in about a second.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runbook_lib.errors import WorkspaceError


@dataclass(frozen=True)
class SmokeReport:
    """Outcome of :func:`run_smoke`."""

    episodes: int
    steps: int
    agreeing_steps: int
    first_divergence: dict[str, Any] | None
    legacy_steps_per_s: float
    candidate_steps_per_s: float

    @property
    def agreement(self) -> float:
        """Share of steps on which both envs gave identical results."""
        return self.agreeing_steps / self.steps if self.steps else 0.0

    @property
    def throughput_ratio(self) -> float:
        """Candidate steps/s over legacy steps/s (below 1: the candidate is slower)."""
        return self.candidate_steps_per_s / self.legacy_steps_per_s


def run_smoke(
    root: Path,
    entry_point: str,
    *,
    episodes: int = 3,
    seed: int = 0,
    env: dict[str, str] | None = None,
    timeout: float = 120.0,
) -> SmokeReport:
    """Run the smoke in a child process with ``root`` as its working directory.

    Raises:
        WorkspaceError: the child failed (its stderr is in the message).
    """
    cmd = [sys.executable, "-m", "runbook_lib.smoke", "--entry-point", entry_point]
    cmd += ["--episodes", str(episodes), "--seed", str(seed)]
    child_env = {**os.environ, **(env or {}), "PYTHONPATH": str(root)}
    proc = subprocess.run(
        cmd, cwd=root, env=child_env, capture_output=True, text=True, timeout=timeout, check=False
    )
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.strip().splitlines()[-5:])
        raise WorkspaceError(f"smoke run failed in {root}: {tail}")
    data = json.loads(proc.stdout.strip().splitlines()[-1])
    return SmokeReport(**data)


def _same(left: Any, right: Any) -> bool:
    import numpy as np

    return bool(np.array_equal(np.asarray(left), np.asarray(right)))


def _compare(legacy: list[Any], candidate: list[Any]) -> str | None:
    fields = ("obs", "reward", "terminated", "truncated")
    for name, left, right in zip(fields, legacy[:4], candidate[:4], strict=True):
        if not _same(left, right):
            return name
    return None


def _child(entry_point: str, episodes: int, seed: int) -> dict[str, Any]:
    import numpy as np

    from runbook_lib.entrypoint import load_entry_point

    factory = load_entry_point(entry_point)
    envs = (factory(None, env_type="legacy"), factory(None, env_type="unified"))
    steps = agreeing = 0
    times = [0.0, 0.0]
    first: dict[str, Any] | None = None
    for episode in range(episodes):
        for env in envs:
            env.reset(seed=seed + episode)
        rng = np.random.default_rng(seed + episode)
        done = False
        while not done:
            action = int(rng.integers(envs[0].action_space.n))
            t0 = time.perf_counter()
            legacy = list(envs[0].step(action))
            t1 = time.perf_counter()
            candidate = list(envs[1].step(action))
            times[0] += t1 - t0
            times[1] += time.perf_counter() - t1
            steps += 1
            field = _compare(legacy, candidate)
            if field is None:
                agreeing += 1
            elif first is None:
                first = {"episode": episode, "step": steps, "field": field}
            done = bool(legacy[2] or legacy[3] or candidate[2] or candidate[3])
    return {
        "episodes": episodes,
        "steps": steps,
        "agreeing_steps": agreeing,
        "first_divergence": first,
        "legacy_steps_per_s": steps / times[0],
        "candidate_steps_per_s": steps / times[1],
    }


def main() -> None:
    """Child-process entry point: print one JSON line with the smoke's counts."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entry-point", required=True)
    parser.add_argument("--episodes", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    sys.path.insert(0, os.getcwd())
    print(json.dumps(_child(args.entry_point, args.episodes, args.seed)))


if __name__ == "__main__":
    main()
