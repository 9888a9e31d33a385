"""A tiny Gymnasium target written into a temporary root: Dict + Tuple spaces, a wrapper."""

from __future__ import annotations

from pathlib import Path

TOY_PACKAGE = "toyrl"

_CODE = """
import os
import sys
import time

import gymnasium as gym
import numpy as np
from gymnasium import spaces


class ToyEnv(gym.Env):
    def __init__(self, die_at=None, hang_at=None, shift=0.0):
        self.observation_space = spaces.Dict({
            "holding_time": spaces.Box(0.0, 10.0, (3,), np.float32),
            "slots": spaces.MultiBinary(4),
            "hops": spaces.Discrete(5),
            "pair": spaces.Tuple((spaces.Discrete(3), spaces.Box(-1.0, 1.0, (2, 2), np.float64))),
        })
        self.action_space = spaces.MultiDiscrete([3, 2])
        self.die_at, self.hang_at, self.shift = die_at, hang_at, shift
        self.t = 0

    def _obs(self):
        rng = self.np_random
        return {
            "holding_time": rng.uniform(0, 10, 3).astype(np.float32) + np.float32(self.shift),
            "slots": rng.integers(0, 2, 4).astype(np.int8),
            "hops": int(rng.integers(5)),
            "pair": (int(rng.integers(3)), rng.uniform(-1, 1, (2, 2))),
        }

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return self._obs(), {"mask": np.ones(3, dtype=bool)}

    def step(self, action):
        self.t += 1
        if self.die_at == self.t:
            print("toyrl: dying at step", self.t, file=sys.stderr, flush=True)
            os._exit(3)
        if self.hang_at == self.t:
            time.sleep(60)
        reward = float(np.sum(action))
        return self._obs(), reward, self.t >= 5, False, {"blocking": 0.25, "t": np.int64(self.t)}


class Masked(gym.Wrapper):
    def action_masks(self):
        return np.array([True, False, True])


def make(config=None, env_type=None, **kwargs):
    print("toyrl: factory prints to stdout, which must not break the protocol")
    env = ToyEnv(**kwargs)
    return Masked(env) if env_type == "unified" else env


def load_config(path):
    return {"path": path}
"""


def write_toy_target(root: Path) -> Path:
    """Write the toy package under ``root``; returns ``root``."""
    package = root / TOY_PACKAGE
    package.mkdir(parents=True, exist_ok=True)
    (package / "__init__.py").write_text(_CODE, encoding="utf-8")
    return root
