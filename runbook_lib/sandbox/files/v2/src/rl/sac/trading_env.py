"""``TradingEnv``: trade one synthetic asset by choosing a target position.

Action: the target position in [-1, 1] (short to long, as a fraction of equity).
Reward: the position's return over the next step minus
``transaction_cost * |change in position|``.
Observation: the last ``window`` log returns (times ``return_scale``), the
extra features named in ``env.features`` (see :mod:`src.rl.sac.sac_features`)
and the current position, clipped to [-10, 10].
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from numpy.typing import NDArray

from src.rl.sac.prices import MarketParams, simulate_log_returns
from src.rl.sac.sac_features import feature_vector

OBS_LIMIT = 10.0


@dataclass(frozen=True)
class EnvSettings:
    """The ``env`` section of the config."""

    window: int
    episode_length: int
    transaction_cost: float
    return_scale: float
    features: tuple[str, ...]
    market: MarketParams

    @classmethod
    def from_config(cls, section: dict[str, Any]) -> EnvSettings:
        """Build from the validated ``env`` section."""
        return cls(
            window=int(section["window"]),
            episode_length=int(section["episode_length"]),
            transaction_cost=float(section["transaction_cost"]),
            return_scale=float(section["return_scale"]),
            features=tuple(section["features"]),
            market=MarketParams.from_config(section["market"]),
        )

    @property
    def observation_size(self) -> int:
        """Length of an observation: the return window, the features and the position."""
        return self.window + len(self.features) + 1


class TradingEnv(gym.Env[NDArray[np.float32], NDArray[np.float32]]):
    """A single-asset trading environment over a seeded synthetic price path."""

    def __init__(self, env_config: dict[str, Any]) -> None:
        self.settings = EnvSettings.from_config(env_config)
        size = self.settings.observation_size
        self.observation_space = spaces.Box(-OBS_LIMIT, OBS_LIMIT, shape=(size,), dtype=np.float32)
        self.action_space = spaces.Box(-1.0, 1.0, shape=(1,), dtype=np.float32)
        self._log_returns = np.zeros(self.settings.window + self.settings.episode_length)
        self._t = self.settings.window
        self._position = 0.0

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[NDArray[np.float32], dict[str, Any]]:
        """Draw a new price path (from ``seed`` if given) and start flat."""
        super().reset(seed=seed)
        steps = self.settings.window + self.settings.episode_length
        self._log_returns = simulate_log_returns(self.np_random, steps, self.settings.market)
        self._t = self.settings.window
        self._position = 0.0
        return self._observation(), {"position": 0.0}

    def step(
        self, action: NDArray[np.float32]
    ) -> tuple[NDArray[np.float32], float, bool, bool, dict[str, Any]]:
        """Move to the target position, then let one step of the market pass."""
        target = float(np.clip(np.asarray(action, dtype=np.float64).reshape(-1)[0], -1.0, 1.0))
        cost = self.settings.transaction_cost * abs(target - self._position)
        asset_return = math.expm1(float(self._log_returns[self._t]))
        reward = target * asset_return - cost
        self._position = target
        self._t += 1
        truncated = self._t >= len(self._log_returns)
        info = {"position": target, "cost": cost, "asset_return": asset_return}
        return self._observation(), reward, False, truncated, info

    def _window(self) -> NDArray[np.float64]:
        return self._log_returns[self._t - self.settings.window : self._t]

    def _observation(self) -> NDArray[np.float32]:
        window = self._window()
        scale = self.settings.return_scale
        features = feature_vector(window, self.settings.features, scale)
        raw = np.concatenate((window * scale, features, [self._position]))
        return np.clip(raw, -OBS_LIMIT, OBS_LIMIT).astype(np.float32)
