"""Cost of lockstep parity: its overhead over bare stepping, and the speed-up of 2 workers.

0. Env workers: lockstep through the target's env workers (whole episodes
   per call) against the same lockstep on envs built in this process. Goal
   <= 15%. Also the paired steps/s through the workers on both reference
   targets: the default sandbox and the foreign profile (its own venv with
   gymnasium 0.29.1, Dict observations, a config loader; made here unless
   ``--foreign DIR`` names one, skipped with ``--no-foreign``).
1. Overhead: ``lockstep.run_episode`` (every step compared, recorded and
   timed) against stepping the same two envs bare: the same policy picks the
   same actions, nothing is compared or recorded. Target <= 10%.
2. Parallel runs: ``run_lockstep`` over the same seeds with 2 workers against
   1 (wall time, process start included). Target >= 1.7x on 2 cores.

3. Ray (with the ``ray`` extra; informational, not judged): the start of a
   local instance, and ``run_lockstep`` with 2 workers on Ray against the
   process pool on the same seeds (wall time, records compared).

All are measured in one run, in interleaved repetitions (the order swaps each
time), and the median of the per-repetition ratios is reported. The envs are
the sandbox's, built through its factory. Exit status 1 only when a target is
missed by a wide margin (overhead above 20%, speed-up below 1.4x): the
machines are noisy. Two workers cannot beat one when other processes hold the
cores, so the speed-up is not judged when they used more than a quarter of
the CPUs around its runs (the figure is printed all the same).

    python bench/bench_parity.py [--workspace DIR] [--foreign DIR | --no-foreign]
                                 [--repeats 7] [--episodes 4] [--no-ray]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import psutil

from runbook_lib.parity.backends import Backend, run_lockstep
from runbook_lib.parity.episodes import session
from runbook_lib.parity.inprocess import target_imports
from runbook_lib.parity.lockstep import ParitySpec, RandomValidPolicy, build_envs, run_episode

FACTORY = "src.rl.envs.factory:create_sim_env"
OVERHEAD_TARGET, OVERHEAD_LIMIT = 0.10, 0.20
SPEEDUP_TARGET, SPEEDUP_LIMIT = 1.7, 1.4
WORKER_GOAL, WORKER_LIMIT = 0.15, 0.25
BUSY_PERCENT = 25.0  # two workers need both cores: above this, others hold a good part of one


def bare_episode(envs: tuple[Any, Any], seed: int, max_steps: int) -> int:
    """Step both envs with the lockstep's own action choice; compare and record nothing."""
    legacy, candidate = envs
    legacy.reset(seed=seed)
    _, info = candidate.reset(seed=seed)
    act = RandomValidPolicy(seed, int(legacy.action_space.n))
    steps = 0
    for steps in range(1, max_steps + 1):  # noqa: B007  # the count is the result
        action = act(None, info.get("action_mask"))
        out_l = legacy.step(action)
        _, _, term_c, trunc_c, info = candidate.step(action)
        if out_l[2] or out_l[3] or term_c or trunc_c:
            break
    return steps


def _timed(func: Any, *args: Any, **kwargs: Any) -> float:
    started = time.perf_counter()
    func(*args, **kwargs)
    return time.perf_counter() - started


def overhead(spec: ParitySpec, repeats: int, episodes: int) -> list[float]:
    """Per repetition: lockstep time / bare time - 1, over ``episodes`` episodes each."""
    envs = build_envs(spec)
    bare_episode(envs, 0, spec.max_steps)  # warm caches before timing

    def bare(seeds: range) -> None:
        for seed in seeds:
            bare_episode(envs, seed, spec.max_steps)

    def lockstep(seeds: range) -> None:
        for index, seed in enumerate(seeds):
            run_episode(envs, index, seed, spec)

    ratios = []
    for repeat in range(repeats):
        seeds = range(100 + repeat * episodes, 100 + (repeat + 1) * episodes)
        if repeat % 2:
            lock_s, bare_s = _timed(lockstep, seeds), _timed(bare, seeds)
        else:
            bare_s, lock_s = _timed(bare, seeds), _timed(lockstep, seeds)
        ratios.append(lock_s / bare_s - 1.0)
    return ratios


def worker_overhead(spec: ParitySpec, repeats: int, episodes: int) -> tuple[list[float], float]:
    """Per repetition: lockstep through env workers / lockstep in this process - 1.

    The workers are started and the envs built before timing: the figure is
    the cost of the protocol (one call per episode, the per-step digests back,
    the first divergence's leaves on demand). Also returns the workers' steps/s.
    """
    local = build_envs(spec)
    steps, seconds = 0, 0.0
    ratios = []
    with session(spec) as live:
        live.run(0, 0)  # warm both sides

        def in_process(seeds: range) -> int:
            return sum(run_episode(local, i, seed, spec).length for i, seed in enumerate(seeds))

        def workers(seeds: range) -> int:
            return sum(live.run(i, seed).length for i, seed in enumerate(seeds))

        for repeat in range(repeats):
            seeds = range(200 + repeat * episodes, 200 + (repeat + 1) * episodes)
            local_s = _timed(in_process, seeds)
            started = time.perf_counter()
            steps += workers(seeds)
            remote_s = time.perf_counter() - started
            seconds += remote_s
            ratios.append(remote_s / local_s - 1.0)
    return ratios, steps / seconds if seconds else 0.0


def foreign_rate(workspace: Path, episodes: int) -> tuple[float, int]:
    """Paired steps/s through the env workers on the foreign profile, and the steps run."""
    from runbook_lib.parity.inputs import spec_from_manifest
    from runbook_lib.target.manifest import load_manifest

    spec = spec_from_manifest(load_manifest(workspace), tuple(range(300, 301 + episodes)))
    with session(spec) as live:
        live.run(0, spec.seeds[0])  # warm both sides
        started = time.perf_counter()
        steps = sum(live.run(i, seed).length for i, seed in enumerate(spec.seeds[1:], 1))
        return steps / (time.perf_counter() - started), steps


def speedup(spec: ParitySpec, repeats: int) -> list[float]:
    """Per repetition: wall time of 1 worker / wall time of 2 workers, same seeds."""
    ratios = []
    for repeat in range(repeats):
        if repeat % 2:
            two, one = _timed(run_lockstep, spec, workers=2), _timed(run_lockstep, spec, workers=1)
        else:
            one, two = _timed(run_lockstep, spec, workers=1), _timed(run_lockstep, spec, workers=2)
        ratios.append(one / two)
    return ratios


def ray_figures(spec: ParitySpec, repeats: int) -> None:
    """Print Ray's start time and its wall time against the process pool's (2 workers)."""
    try:
        import ray
    except ImportError:
        print("ray: not installed (pip install -e '.[ray]'); no Ray figures")
        return
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    with tempfile.TemporaryDirectory(prefix="rbray", dir="/tmp") as temp_dir:
        started = time.perf_counter()
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, _temp_dir=temp_dir)
        start_s = time.perf_counter() - started
        try:
            on_ray = Backend("ray")
            same = _timeless(run_lockstep(spec, workers=2, backend=on_ray)) == _timeless(
                run_lockstep(spec, workers=2)
            )
            ratios = []
            for repeat in range(repeats):
                if repeat % 2:
                    pool_s = _timed(run_lockstep, spec, workers=2)
                    ray_s = _timed(run_lockstep, spec, workers=2, backend=on_ray)
                else:
                    ray_s = _timed(run_lockstep, spec, workers=2, backend=on_ray)
                    pool_s = _timed(run_lockstep, spec, workers=2)
                ratios.append(ray_s / pool_s)
        finally:
            ray.shutdown()
    print(f"ray: local instance started in {start_s:.1f} s (2 CPUs)")
    print(
        f"ray / process pool wall time, 2 workers: {statistics.median(ratios):.2f}x "
        f"({_spread(ratios, '.2f')}); records {'identical' if same else 'DIFFER'}, timings aside"
    )


def _timeless(records: list[Any]) -> list[Any]:
    return [dataclasses.replace(r, legacy_seconds=0.0, candidate_seconds=0.0) for r in records]


def _spread(values: list[float], fmt: str) -> str:
    return f"median of {len(values)}; {format(min(values), fmt)}..{format(max(values), fmt)}"


def others_cpu_percent() -> float:
    """Share of all CPUs (0-100) that other processes use while this one sleeps half a second."""
    return float(psutil.cpu_percent(interval=0.5))


def report(workspace: Path, args: argparse.Namespace) -> int:
    """Measure both figures, print them with their targets; 1 when one is missed widely."""
    warnings.simplefilter("ignore", DeprecationWarning)
    spec = ParitySpec(root=str(workspace), factory=FACTORY, seeds=tuple(range(args.parallel)))
    with target_imports(workspace, FACTORY):
        over = overhead(spec, args.repeats, args.episodes)
        remote_over, remote_rate = worker_overhead(spec, args.repeats, args.episodes)
        busy_before = others_cpu_percent()
        gain = speedup(spec, args.repeats)
        busy = max(busy_before, others_cpu_percent())
        if args.ray:
            ray_figures(spec, args.repeats)
    over_median, gain_median = statistics.median(over), statistics.median(gain)
    print(f"workspace {workspace}; {args.repeats} interleaved repetitions")
    print(
        f"lockstep overhead over bare stepping: {over_median:+.1%} ({_spread(over, '+.1%')}); "
        f"target <= {OVERHEAD_TARGET:.0%}, {args.episodes} episodes per block"
    )
    print(
        f"speed-up of 2 workers over 1: {gain_median:.2f}x ({_spread(gain, '.2f')}); "
        f"target >= {SPEEDUP_TARGET}x, {args.parallel} episodes per run"
    )
    remote_median = statistics.median(remote_over)
    print(
        f"env workers over in-process lockstep: {remote_median:+.1%} "
        f"({_spread(remote_over, '+.1%')}); goal <= {WORKER_GOAL:.0%}, "
        f"{args.episodes} episodes per block"
    )
    print(f"default profile: {remote_rate:.0f} paired steps/s through the workers")
    if args.foreign_workspace is not None:
        rate, steps = foreign_rate(args.foreign_workspace, args.episodes)
        print(
            f"foreign profile: {rate:.0f} paired steps/s through the workers "
            f"({steps} steps; gymnasium 0.29.1 in its own venv, Dict observations)"
        )
    cores = os.cpu_count() or 1
    print(f"other processes used {busy:.0f}% of the {cores} CPUs around the speed-up runs")
    failed = []
    if over_median > OVERHEAD_LIMIT:
        failed.append(f"overhead {over_median:.1%} is above {OVERHEAD_LIMIT:.0%}")
    if remote_median > WORKER_LIMIT:
        failed.append(f"env workers' overhead {remote_median:.1%} is above {WORKER_LIMIT:.0%}")
    judged = busy <= BUSY_PERCENT or gain_median >= SPEEDUP_LIMIT
    if not judged:
        print(f"speed-up not judged: others kept more than {BUSY_PERCENT:.0f}% of the CPUs busy")
    elif gain_median < SPEEDUP_LIMIT:
        failed.append(f"speed-up {gain_median:.2f}x is below {SPEEDUP_LIMIT}x")
    if failed:
        print("FAIL: " + "; ".join(failed) + " (a target missed by a wide margin)")
        return 1
    narrow = (
        over_median > OVERHEAD_TARGET
        or remote_median > WORKER_GOAL
        or (judged and gain_median < SPEEDUP_TARGET)
    )
    print("ok" + (" (a target missed narrowly: noise, or look closer)" if narrow else ""))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", type=Path, help="an existing sandbox (default: a new one)")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--episodes", type=int, default=4, help="episodes per overhead block")
    parser.add_argument("--parallel", type=int, default=16, help="episodes per speed-up run")
    parser.add_argument("--no-ray", dest="ray", action="store_false", help="skip the Ray figures")
    parser.add_argument("--foreign", type=Path, help="an existing foreign-profile sandbox")
    parser.add_argument(
        "--no-foreign", action="store_true", help="skip the foreign profile's steps/s"
    )
    args = parser.parse_args()
    if min(args.repeats, args.episodes, args.parallel) < 1:
        parser.error("--repeats, --episodes and --parallel must be at least 1")
    from runbook_lib.sandbox import create_workspace

    with tempfile.TemporaryDirectory(prefix="bench-sandbox-") as tmp:
        args.foreign_workspace = None if args.no_foreign else args.foreign
        if args.foreign_workspace is None and not args.no_foreign:
            info = create_workspace(Path(tmp) / "foreign", profile="foreign")
            print(f"materialized a foreign-profile sandbox in {info.seconds:.1f} s")
            args.foreign_workspace = info.root
        if args.workspace is not None:
            return report(args.workspace.resolve(), args)
        info = create_workspace(Path(tmp) / "ws")
        print(f"materialized a sandbox in {info.seconds:.1f} s")
        return report(info.root, args)


if __name__ == "__main__":
    sys.exit(main())
