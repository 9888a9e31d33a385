"""An epsilon-greedy bandit over the k paths: mask-aware, one fresh env per episode."""

from __future__ import annotations

from typing import Any, List, Optional

import numpy as np


def train_bandit(
    config: Any,
    episodes: int = 2,
    env_type: Optional[str] = None,
    seed: int = 0,
    epsilon: float = 0.1,
) -> List[float]:
    """Blocking probability of each episode."""
    from lightpath.envs import create_sim_env

    rng = np.random.default_rng(seed)
    value = np.zeros(config.simulation.k_paths)
    count = np.zeros(config.simulation.k_paths)
    blocking: List[float] = []
    for episode in range(episodes):
        env = create_sim_env(config, env_type=env_type)  # the simulator caps resets per instance
        _, info = env.reset(seed=seed + episode)
        done = False
        while not done:
            mask = np.asarray(info["action_mask"])
            arms = np.flatnonzero(mask) if mask.any() else np.arange(mask.size)
            if rng.random() < epsilon:
                arm = int(rng.choice(arms))
            else:
                arm = int(arms[np.argmax(value[arms])])
            _, reward, terminated, truncated, info = env.step(arm)
            count[arm] += 1
            value[arm] += (reward - value[arm]) / count[arm]
            done = terminated or truncated
        blocking.append(float(info["blocking_probability"]))
    return blocking
