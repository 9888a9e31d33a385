"""Release 2.0's observation features."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from src.rl.sac.sac_features import FEATURES, drawdown, feature_vector, momentum, volatility
from src.rl.sac.trading_env import TradingEnv


def test_flat_window_has_no_volatility_momentum_or_drawdown() -> None:
    window = np.zeros(16)
    assert feature_vector(window, list(FEATURES), 100.0).tolist() == [0.0, 0.0, 0.0]


def test_trend_shows_in_momentum_and_drawdown() -> None:
    rising, falling = np.full(16, 0.01), np.full(16, -0.01)
    assert momentum(rising, 1.0) > 0 > momentum(falling, 1.0)
    assert drawdown(rising, 1.0) == 0.0
    assert drawdown(falling, 1.0) == pytest.approx(0.16)
    assert volatility(np.array([0.01, -0.01]), 100.0) == pytest.approx(1.0)


def test_unknown_feature_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown observation features"):
        feature_vector(np.zeros(4), ["rsi"], 1.0)


def test_observation_carries_the_features(config: dict[str, Any]) -> None:
    env = TradingEnv(config["env"])
    observation, _ = env.reset(seed=0)
    window = config["env"]["window"]
    assert observation.shape == (window + len(config["env"]["features"]) + 1,)
