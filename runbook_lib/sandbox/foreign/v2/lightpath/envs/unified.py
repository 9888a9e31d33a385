"""UnifiedRoutingEnv: the v2.0 env. An infeasible path blocks the request (reward -1)."""

from __future__ import annotations

import time
from typing import Any, Dict, Optional, Tuple

import gymnasium as gym
import numpy as np

from lightpath.config import FaultSettings, SimulationSettings
from lightpath.envs.legacy import ResetLimitError
from lightpath.sim import RoutingCore, observation_space


class UnifiedRoutingEnv(gym.Env):
    """Same simulator as the legacy env; safe for any policy; drill faults apply here only."""

    metadata: Dict[str, Any] = {"render_modes": []}

    def __init__(
        self, settings: SimulationSettings, faults: FaultSettings = FaultSettings()
    ) -> None:
        self.settings = settings
        self.faults = faults
        self.observation_space = observation_space(settings)
        self.action_space = gym.spaces.Discrete(settings.k_paths)
        self.core: Optional[RoutingCore] = None
        self.resets = 0
        self._step = 0

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
        self._step = 0
        return self._obs(), self._info()

    def mask(self) -> np.ndarray:
        if self.core is None:
            raise RuntimeError("reset() before action_masks()")
        if self._step and self._step == self.faults.empty_mask_at_step:
            return np.zeros(self.settings.k_paths, dtype=bool)
        return self.core.feasible()

    def _obs(self) -> Dict[str, np.ndarray]:
        assert self.core is not None
        obs = self.core.observation()
        if self.faults.obs_noise:
            noise = self.np_random.normal(0.0, self.faults.obs_noise, 1).astype(np.float32)
            obs["holding_time"] = np.abs(obs["holding_time"] + noise)
        return obs

    def _info(self) -> Dict[str, Any]:
        assert self.core is not None
        info = self.core.info()
        info.pop("action_mask")  # the mask is the wrapper's job in this release
        return info

    def step(self, action: Any) -> Tuple[Any, float, bool, bool, Dict[str, Any]]:
        if self.core is None:
            raise RuntimeError("reset() before step()")
        started = time.perf_counter()
        self._step += 1
        if self._step == self.faults.crash_at_step:
            raise RuntimeError(
                f"injected fault crash_at_step={self.faults.crash_at_step}: UnifiedRoutingEnv crashed"
            )
        reward = (1.0 if self.core.serve(int(action)) else -1.0) + self.faults.reward_bias
        obs, info = self._obs(), self._info()
        if self.faults.slowdown > 1.0:
            end = started + (time.perf_counter() - started) * self.faults.slowdown
            while time.perf_counter() < end:
                pass
        return obs, reward, self.core.done, False, info
