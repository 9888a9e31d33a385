"""Steps per second of the sandbox's legacy and unified RSA envs, side by side.

Both envs (and, with ``--slowdown``, a unified env with that fault injected)
are built through the workspace's own ``create_sim_env`` in one child process
that runs in the workspace. Blocks of episodes alternate between the envs, in
a rotating order, for several repetitions; each repetition gives a ratio of
unified to legacy steps/s, and the median ratio is reported. Every env gets
the same seeds and the same actions.

Exit status 1 when the no-fault ratio is outside 0.8-1.25 (the rollback plan's
"more than 20 % slower" regression, with the same margin the other way).

    python bench/bench_envs.py [--workspace DIR] [--slowdown 1.5] [--repeats 9]
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from runbook_lib.sandbox.faults import clear_faults, set_faults

LOW, HIGH = 0.8, 1.25
VARIANTS = ("legacy", "unified", "unified+slowdown")


def _child_envs(clean_config: str, slow_config: str | None) -> dict[str, Any]:
    factory = importlib.import_module("src.rl.envs.factory")
    envs: dict[str, Any] = {}
    os.environ["RL_CONFIG_FILE"] = clean_config
    envs["legacy"] = factory.create_sim_env(None, env_type="legacy")
    envs["unified"] = factory.create_sim_env(None, env_type="unified")
    if slow_config is not None:
        os.environ["RL_CONFIG_FILE"] = slow_config
        envs["unified+slowdown"] = factory.create_sim_env(None, env_type="unified")
    return envs


def _block(env: Any, seeds: range) -> tuple[int, float]:
    import numpy as np

    steps, elapsed = 0, 0.0
    k = int(env.action_space.n)
    for seed in seeds:
        env.reset(seed=seed)
        actions = np.random.default_rng(seed).integers(k, size=env.settings.num_requests)
        started = time.perf_counter()
        for action in actions:
            env.step(int(action))
        elapsed += time.perf_counter() - started
        steps += len(actions)
    return steps, elapsed


def child(clean_config: str, slow_config: str | None, repeats: int, episodes: int) -> None:
    """Run in the workspace: print one JSON line of steps/s per variant and repetition."""
    import warnings

    warnings.simplefilter("ignore", DeprecationWarning)
    sys.path.insert(0, os.getcwd())
    envs = _child_envs(clean_config, slow_config)
    names = list(envs)
    _block(envs["legacy"], range(1))  # warm caches and imports before timing
    _block(envs["unified"], range(1))
    rates: dict[str, list[float]] = {name: [] for name in names}
    for repeat in range(repeats):
        order = names[repeat % len(names) :] + names[: repeat % len(names)]
        seeds = range(100 + repeat * episodes, 100 + (repeat + 1) * episodes)
        for name in order:
            steps, elapsed = _block(envs[name], seeds)
            rates[name].append(steps / elapsed)
    print(json.dumps(rates))


def _prepare_configs(workspace: Path, scratch: Path, slowdown: float | None) -> list[str]:
    """Private copies of the workspace's config.ini: faults off, and slowed down."""
    paths = []
    for name, factor in (("clean", None), ("slow", slowdown)):
        if name == "slow" and factor is None:
            continue
        folder = scratch / name
        folder.mkdir()
        shutil.copy2(workspace / "config.ini", folder / "config.ini")
        clear_faults(folder)
        if factor is not None:
            set_faults(folder, slowdown=factor)
        paths.append(str(folder / "config.ini"))
    return paths


def measure(
    workspace: Path, slowdown: float | None, repeats: int, episodes: int
) -> dict[str, list[float]]:
    with tempfile.TemporaryDirectory(prefix="bench-envs-") as scratch:
        configs = _prepare_configs(workspace, Path(scratch), slowdown)
        cmd = [sys.executable, str(Path(__file__).resolve()), "--child", *configs]
        cmd += ["--repeats", str(repeats), "--episodes", str(episodes)]
        env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
        for name in ("RL_ENV_TYPE", "USE_UNIFIED_ENV"):
            env.pop(name, None)
        proc = subprocess.run(
            cmd, cwd=workspace, env=env, capture_output=True, text=True, check=False, timeout=1800
        )
    if proc.returncode != 0:
        sys.exit(f"bench child failed:\n{proc.stderr}")
    rates: dict[str, list[float]] = json.loads(proc.stdout.strip().splitlines()[-1])
    return rates


def _ratio_line(label: str, rates: dict[str, list[float]], name: str) -> tuple[str, float]:
    ratios = [u / legacy for u, legacy in zip(rates[name], rates["legacy"], strict=True)]
    median = statistics.median(ratios)
    line = (
        f"{label:<18} legacy {statistics.median(rates['legacy']):>8.0f} steps/s   "
        f"unified {statistics.median(rates[name]):>8.0f} steps/s   "
        f"ratio {median:.3f} (median of {len(ratios)}; {min(ratios):.3f}..{max(ratios):.3f})"
    )
    return line, median


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", type=Path, help="an existing sandbox (default: a new one)")
    parser.add_argument("--slowdown", type=float, help="also measure this slowdown fault")
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--episodes", type=int, default=2, help="episodes per block")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(
            args.child[0],
            args.child[1] if len(args.child) > 1 else None,
            args.repeats,
            args.episodes,
        )
        return 0
    if args.repeats < 1 or args.episodes < 1:
        parser.error("--repeats and --episodes must be at least 1")
    if args.slowdown is not None and args.slowdown < 1.0:
        parser.error("--slowdown is a factor >= 1.0")
    if args.workspace is not None:
        return report(args.workspace.resolve(), args)
    from runbook_lib.sandbox import create_workspace

    with tempfile.TemporaryDirectory(prefix="bench-sandbox-") as tmp:
        info = create_workspace(Path(tmp) / "ws")
        print(f"materialized a sandbox in {info.seconds:.1f} s")
        return report(info.root, args)


def report(workspace: Path, args: argparse.Namespace) -> int:
    if not (workspace / "src/rl/envs/unified_sim_env.py").is_file():
        sys.exit(f"{workspace} has no UnifiedSimEnv: pass a sandbox at release v2.0")
    rates = measure(workspace, args.slowdown, args.repeats, args.episodes)
    print(
        f"workspace {workspace}; {args.repeats} interleaved repetitions, "
        f"{args.episodes} episodes per block"
    )
    line, ratio = _ratio_line("no fault", rates, "unified")
    print(line)
    if args.slowdown is not None:
        slow_line, _ = _ratio_line(f"slowdown {args.slowdown:g}", rates, "unified+slowdown")
        print(f"{slow_line}   expected about {1 / args.slowdown:.3f}")
    if not LOW <= ratio <= HIGH:
        print(f"FAIL: no-fault ratio {ratio:.3f} is outside {LOW}-{HIGH}")
        return 1
    print(f"ok: no-fault ratio within {LOW}-{HIGH}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
