"""Train on the env create_sim_env builds: ``--algo ppo`` (SB3) or ``--algo bandit``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from lightpath.agents.bandit import train_bandit  # noqa: E402
from lightpath.config import load_config  # noqa: E402
from lightpath.envs import create_sim_env  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--algo", choices=("ppo", "bandit"), default="ppo")
    parser.add_argument("--env-type", default=None)
    parser.add_argument("--timesteps", type=int, default=400)
    args = parser.parse_args()
    config = load_config(ROOT / "experiment.ini")
    if args.algo == "bandit":
        print("blocking per episode:", train_bandit(config, episodes=2, env_type=args.env_type))
        return 0
    import torch
    from stable_baselines3 import PPO

    torch.set_num_threads(1)
    env = create_sim_env(config, env_type=args.env_type)
    model = PPO(
        "MultiInputPolicy", env, n_steps=64, batch_size=32, n_epochs=1, seed=0, device="cpu"
    )
    model.learn(total_timesteps=args.timesteps)
    print("trained", model.num_timesteps, "steps")
    return 0


if __name__ == "__main__":
    sys.exit(main())
