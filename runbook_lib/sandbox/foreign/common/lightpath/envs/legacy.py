"""LegacyRoutingEnv: the original environment (kept for rollback)."""

from __future__ import annotations

from typing import Any, Dict, Optional, Tuple

import gymnasium as gym
import numpy as np

from lightpath.config import SimulationSettings
from lightpath.sim import RoutingCore, observation_space


class ResetLimitError(RuntimeError):
    """An instance was reset more often than the simulator allows."""


class LegacyRoutingEnv(gym.Env):
    """Choose one of k paths per request. A path that cannot carry the request is an error.

    The legacy simulator expects a feasible path whenever one exists (as its
    mask-aware heuristics and bandits choose); it raises otherwise.
    """

    metadata: Dict[str, Any] = {"render_modes": []}

    def __init__(self, settings: SimulationSettings) -> None:
        self.settings = settings
        self.observation_space = observation_space(settings)
        self.action_space = gym.spaces.Discrete(settings.k_paths)
        self.core: Optional[RoutingCore] = None
        self.resets = 0

    def reset(
        self, *, seed: Optional[int] = None, options: Optional[Dict[str, Any]] = None
    ) -> Tuple[Any, Dict[str, Any]]:
        super().reset(seed=seed)
        self.resets += 1
        if self.resets > self.settings.max_resets_per_env:
            raise ResetLimitError(
                f"{type(self).__name__} refuses reset #{self.resets}: one instance simulates at most "
                f"{self.settings.max_resets_per_env} episodes; build a new env"
            )
        self.core = RoutingCore(self.settings, self.np_random)
        return self.core.observation(), self.core.info()

    def step(self, action: Any) -> Tuple[Any, float, bool, bool, Dict[str, Any]]:
        if self.core is None:
            raise RuntimeError("reset() before step()")
        action = int(action)
        feasible = self.core.feasible()
        if feasible.any() and not feasible[action]:
            raise ValueError(
                f"LegacyRoutingEnv: path {action} cannot carry the request "
                f"(feasible: {np.flatnonzero(feasible).tolist()})"
            )
        accepted = self.core.serve(action)
        return (
            self.core.observation(),
            1.0 if accepted else -1.0,
            self.core.done,
            False,
            self.core.info(),
        )
