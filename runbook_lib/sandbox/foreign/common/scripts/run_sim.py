"""Run routing episodes with the first-fit heuristic and print the blocking probability.

Usage: ``python scripts/run_sim.py --episodes 2 [--requests 200]``. The env is
created at exactly one place (the call site a code-level rollback pins).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from lightpath.config import load_config  # noqa: E402
from lightpath.envs import EnvType, create_sim_env  # noqa: E402,F401


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=2)
    parser.add_argument("--requests", type=int, default=None)
    parser.add_argument("--config", default=str(ROOT / "experiment.ini"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    config = load_config(args.config)
    for episode in range(args.episodes):
        env = create_sim_env(config, num_requests=args.requests)
        _, info = env.reset(seed=episode)
        done = False
        while not done:
            mask = np.asarray(info["action_mask"])
            action = int(np.flatnonzero(mask)[0]) if mask.any() else 0
            _, _, terminated, truncated, info = env.step(action)
            done = terminated or truncated
        print(f"episode {episode}: blocking probability {info['blocking_probability']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
