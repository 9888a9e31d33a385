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
    def __init__(self, die_at=None, hang_at=None, shift=0.0, max_resets=None, pair_shift=0.0,
                 kill_at=None):
        self.observation_space = spaces.Dict({
            "holding_time": spaces.Box(0.0, 10.0, (3,), np.float32),
            "slots": spaces.MultiBinary(4),
            "hops": spaces.Discrete(5),
            "pair": spaces.Tuple((spaces.Discrete(3), spaces.Box(-1.0, 1.0, (2, 2), np.float64))),
        })
        self.action_space = spaces.MultiDiscrete([3, 2])
        self.die_at, self.hang_at, self.shift = die_at, hang_at, shift
        self.max_resets, self.pair_shift, self.resets = max_resets, pair_shift, 0
        self.kill_at = kill_at
        self.t = 0

    def _obs(self):
        rng = self.np_random
        return {
            "holding_time": rng.uniform(0, 10, 3).astype(np.float32) + np.float32(self.shift),
            "slots": rng.integers(0, 2, 4).astype(np.int8),
            "hops": int(rng.integers(5)),
            "pair": (int(rng.integers(3)), rng.uniform(-1, 1, (2, 2)) + self.pair_shift),
        }

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.resets += 1
        if self.max_resets is not None and self.resets > self.max_resets:
            raise RuntimeError(f"this instance refuses reset {self.resets}")
        self.t = 0
        return self._obs(), {"mask": np.ones(3, dtype=bool)}

    def step(self, action):
        self.t += 1
        if self.die_at == self.t:
            print("toyrl: dying at step", self.t, file=sys.stderr, flush=True)
            os._exit(3)
        if self.kill_at == self.t:
            print("toyrl: killed at step", self.t, file=sys.stderr, flush=True)
            os.kill(os.getpid(), 9)
        if self.hang_at == self.t:
            time.sleep(60)
        reward = float(np.sum(action))
        return self._obs(), reward, self.t >= 5, False, {"blocking": 0.25, "t": np.int64(self.t)}


class Masked(gym.Wrapper):
    def action_masks(self):
        return np.array([True, False, True])


class UnifiedToyEnv(ToyEnv):
    pass


def make(config=None, env_type=None, unified_pair_shift=0.0, own_class=False, **kwargs):
    print("toyrl: factory prints to stdout, which must not break the protocol")
    if env_type == "unified":
        kwargs["pair_shift"] = unified_pair_shift
    env = (UnifiedToyEnv if own_class and env_type == "unified" else ToyEnv)(**kwargs)
    return Masked(env) if env_type == "unified" else env


def first_action(observation_space, action_space):
    return lambda obs: np.array([int(obs["hops"]) % 3, 1])


def load_config(path):
    return {"path": path}
"""


def write_toy_target(root: Path) -> Path:
    """Write the toy package under ``root``; returns ``root``."""
    package = root / TOY_PACKAGE
    package.mkdir(parents=True, exist_ok=True)
    (package / "__init__.py").write_text(_CODE, encoding="utf-8")
    return root
