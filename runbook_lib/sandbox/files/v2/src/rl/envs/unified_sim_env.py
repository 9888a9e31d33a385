"""UnifiedSimEnv: the v2.0 RSA environment (numpy state, adapter layer, action mask).

It serves the same requests as GeneralSimEnv and, with the same seed and the
same actions, returns bit-identical observations, rewards and infos; on top it
reports which paths the current request fits, in ``info["action_mask"]`` and
:meth:`UnifiedSimEnv.action_masks` (the interface sb3-contrib's MaskablePPO
reads). Faults from ``config.ini`` ``[faults]`` are injected here only.
"""

from __future__ import annotations

import time
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from src.rl.envs.faults import FaultConfig
from src.rl.envs.rl_adapter import RLSimulationAdapter
from src.rl.envs.settings import SimulationSettings
from src.rl.envs.sim_core import SimulationCore

# Spawn key of the observation-noise generator: a stream apart from the traffic's.
_NOISE_STREAM = 0x0B5
# The slowdown fault's clock; a module attribute so that a test can drive it.
# The fault stretches the step's CPU time, not its wall time: a busy machine
# would otherwise inflate the injected slowdown (a preempted step looks slower).
_clock = time.thread_time


class UnifiedSimEnv(gym.Env[np.ndarray, np.int64]):
    """Routing and spectrum assignment environment on a numpy simulation core."""

    def __init__(
        self, settings: SimulationSettings | None = None, faults: FaultConfig | None = None
    ) -> None:
        self.settings = settings or SimulationSettings()
        self.faults = faults or FaultConfig()
        self.core = SimulationCore(self.settings)
        self.adapter = RLSimulationAdapter(self.core)
        self.action_space: spaces.Discrete = spaces.Discrete(self.settings.k_paths)
        self.observation_space = spaces.Box(
            0.0, 1.0, shape=(self.adapter.obs_size,), dtype=np.float32
        )
        self._mask = np.zeros(self.settings.k_paths, dtype=bool)
        self._episode_step = 0
        self._noise_rng: np.random.Generator | None = None

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Empty the network and draw the first request."""
        super().reset(seed=seed)
        if seed is not None or self._noise_rng is None:
            self._noise_rng = self._noise_generator()
        self._episode_step = 0
        obs, info = self.adapter.reset(self.np_random)
        self._mask = self.adapter.action_mask()
        info["action_mask"] = self._mask.copy()
        return self._perturb(obs), info

    def step(
        self, action: int | np.integer[Any]
    ) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Serve the current request on path ``action`` and draw the next one."""
        started = _clock()
        path_index = int(action)
        if not 0 <= path_index < self.settings.k_paths:
            raise ValueError(
                f"action {action!r} is not a path index 0..{self.settings.k_paths - 1}"
            )
        self._episode_step += 1
        faults = self.faults
        if self._episode_step == faults.crash_at_step:
            raise RuntimeError(
                f"injected fault crash_at_step={faults.crash_at_step}: UnifiedSimEnv crashed "
                f"at step {self._episode_step} of the episode (config.ini [faults])"
            )
        obs, reward, terminated, info = self.adapter.step(path_index)
        if faults.reward_bias:
            reward += faults.reward_bias
        mask = self.adapter.action_mask()
        if self._episode_step == faults.empty_mask_at_step:
            mask[:] = False
        self._mask = mask
        info["action_mask"] = mask.copy()
        obs = self._perturb(obs)
        if faults.slowdown > 1.0:
            _stretch(started, faults.slowdown)
        return obs, reward, terminated, False, info

    def action_masks(self) -> np.ndarray:
        """Which of the k paths the current request fits (bool array of length k)."""
        return self._mask.copy()

    def _noise_generator(self) -> np.random.Generator:
        seed = self.np_random_seed
        entropy = [seed, _NOISE_STREAM] if seed >= 0 else None
        return np.random.default_rng(entropy)

    def _perturb(self, obs: np.ndarray) -> np.ndarray:
        std = self.faults.obs_noise
        if not std or self._noise_rng is None:
            return obs
        noisy = obs + self._noise_rng.normal(0.0, std, size=obs.shape)
        return np.clip(noisy, 0.0, 1.0).astype(np.float32)


def _stretch(started: float, factor: float) -> None:
    # Busy-wait: a step lasts tens of microseconds, far below sleep()'s resolution.
    elapsed = _clock() - started
    deadline = started + factor * elapsed
    while _clock() < deadline:
        pass
