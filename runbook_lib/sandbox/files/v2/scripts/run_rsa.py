"""Run RSA episodes with a heuristic policy and report the blocking probability.

Usage: ``python scripts/run_rsa.py --episodes 2 [--policy random] [--requests 500]``

The environment is created at exactly one place, ``env = create_sim_env(config)``:
the designated call site for a code-level rollback, which pins it to
``env_type=EnvType.LEGACY``. The policy reads only the observation, so the
legacy and the unified env, given the same seed, serve the same requests the
same way and print the same blocking probability.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from src.rl.envs.factory import EnvType, config_file, create_sim_env  # noqa: E402
from src.rl.envs.settings import read_config_file, section_values  # noqa: E402

logger = logging.getLogger("run_rsa")
POLICIES = ("first_fit", "random")


def fitting_paths(obs: np.ndarray, k: int) -> np.ndarray:
    """Paths whose largest free block holds the slots needed, read from the observation.

    The observation ends with k slots-needed values, k free fractions and k
    largest-block values, all as fractions of the link's slots.
    """
    needed = obs[-3 * k : -2 * k]
    largest = obs[-k:]
    return np.asarray(needed <= largest)


def choose_path(obs: np.ndarray, k: int, policy: str, rng: np.random.Generator) -> int:
    """First fitting path (first_fit) or a random fitting one; path 0 when none fits."""
    candidates = np.flatnonzero(fitting_paths(obs, k))
    if candidates.size == 0:
        return 0  # every path blocks: the env counts the block
    if policy == "first_fit":
        return int(candidates[0])
    return int(rng.choice(candidates))


def monitor_env_metrics(step: int, reward: float, info: dict[str, Any]) -> bool:
    """Log progress; tell whether the env's action mask offers no valid action.

    An empty mask is normal when the network is full (the request is blocked
    whatever the action); a sudden change in how often it happens is not.
    """
    if step % 1000 == 0:
        logger.info("Step %d: reward=%.2f", step, reward)
    return "action_mask" in info and not info["action_mask"].any()


def env_kind(env: object) -> EnvType:
    """Which environment the factory returned."""
    return EnvType.UNIFIED if hasattr(env, "action_masks") else EnvType.LEGACY


def run(config: dict[str, object] | None, episodes: int, seed: int, policy: str) -> float:
    """Run ``episodes`` episodes; print one line per episode and a summary; return blocking."""
    env = create_sim_env(config)
    k = int(env.action_space.n)
    rng = np.random.default_rng(seed)
    requests = blocked = 0
    started = time.perf_counter()
    for episode in range(episodes):
        obs, _ = env.reset(seed=seed + episode)
        total, steps, empty_masks, done = 0.0, 0, 0, False
        while not done:
            obs, reward, terminated, truncated, info = env.step(choose_path(obs, k, policy, rng))
            steps += 1
            total += reward
            empty_masks += monitor_env_metrics(steps, reward, info)
            done = terminated or truncated
        requests += steps
        blocked += round(info["blocking_probability"] * steps)
        masks = f" empty_masks={empty_masks}" if "action_mask" in info else ""
        print(
            f"episode {episode + 1}: requests={steps} "
            f"blocking_probability={info['blocking_probability']:.4f} reward={total:.2f}{masks}"
        )
    rate = requests / (time.perf_counter() - started)
    probability = blocked / requests
    print(
        f"env={env_kind(env).value} ({type(env).__name__}) policy={policy} episodes={episodes} "
        f"requests={requests} blocking_probability={probability:.4f} steps_per_s={rate:.0f}"
    )
    return probability


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments (defaults from config.ini [training]) and run."""
    parser_file = read_config_file(config_file())
    training = section_values(parser_file, "training")
    level = section_values(parser_file, "logging").get("level", "INFO").upper()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=int(training.get("episodes", 5)))
    parser.add_argument("--seed", type=int, default=int(training.get("seed", 0)))
    parser.add_argument(
        "--policy", choices=POLICIES, default=training.get("policy", "first_fit")
    )
    parser.add_argument("--requests", type=int, help="override [simulation] num_requests")
    parser.add_argument("--erlang", type=float, help="override [simulation] erlang")
    args = parser.parse_args(argv)
    if args.episodes < 1:
        parser.error("--episodes must be at least 1")
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    overrides = {"num_requests": args.requests, "erlang": args.erlang}
    config: dict[str, object] | None = {k: v for k, v in overrides.items() if v is not None}
    run(config or None, args.episodes, args.seed, args.policy)
    return 0


if __name__ == "__main__":
    sys.exit(main())
