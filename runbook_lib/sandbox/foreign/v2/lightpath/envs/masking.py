"""ActionMaskWrapper: ``action_masks()`` and ``info["action_mask"]`` for any routing env."""

from __future__ import annotations

from typing import Any, Dict, Tuple

import gymnasium as gym
import numpy as np


class ActionMaskWrapper(gym.Wrapper):
    """Expose which paths can carry the current request."""

    def action_masks(self) -> np.ndarray:
        return self.env.unwrapped.mask()

    def reset(self, **kwargs: Any) -> Tuple[Any, Dict[str, Any]]:
        obs, info = self.env.reset(**kwargs)
        return obs, dict(info, action_mask=self.action_masks())

    def step(self, action: Any) -> Tuple[Any, float, bool, bool, Dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        return obs, reward, terminated, truncated, dict(info, action_mask=self.action_masks())
