"""``TradingEnv``: the gymnasium contract, reproducible prices and the reward's arithmetic."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from gymnasium.spaces import Box
from stable_baselines3.common.env_checker import check_env

from src.rl.sac.prices import MarketParams, simulate_regimes
from src.rl.sac.trading_env import TradingEnv


def test_env_passes_check_env(config: dict[str, Any]) -> None:
    check_env(TradingEnv(config["env"]), warn=True)


def test_spaces(config: dict[str, Any]) -> None:
    env = TradingEnv(config["env"])
    assert isinstance(env.action_space, Box) and env.action_space.shape == (1,)
    assert (env.action_space.low[0], env.action_space.high[0]) == (-1.0, 1.0)
    observation, _ = env.reset(seed=0)
    assert observation.shape == (env.settings.observation_size,)
    assert observation[-1] == 0.0, "the last value is the position, flat at the start"


def test_same_seed_same_prices(config: dict[str, Any]) -> None:
    first, second = TradingEnv(config["env"]), TradingEnv(config["env"])
    assert np.array_equal(first.reset(seed=5)[0], second.reset(seed=5)[0])
    assert not np.array_equal(first.reset(seed=5)[0], second.reset(seed=6)[0])


def test_reward_is_position_pnl_minus_costs(config: dict[str, Any]) -> None:
    env = TradingEnv(config["env"])
    env.reset(seed=3)
    cost_rate = config["env"]["transaction_cost"]
    _, reward, _, _, info = env.step(np.array([1.0], dtype=np.float32))
    assert math.isclose(reward, info["asset_return"] - cost_rate * 1.0, rel_tol=1e-12)
    _, reward, _, _, info = env.step(np.array([-0.5], dtype=np.float32))
    assert math.isclose(reward, -0.5 * info["asset_return"] - cost_rate * 1.5, rel_tol=1e-12)
    assert info["position"] == -0.5


def test_episode_is_truncated_after_episode_length(config: dict[str, Any]) -> None:
    env = TradingEnv(config["env"])
    env.reset(seed=1)
    steps, truncated = 0, False
    while not truncated:
        _, _, terminated, truncated, _ = env.step(env.action_space.sample())
        assert not terminated
        steps += 1
    assert steps == config["env"]["episode_length"]


def test_regimes_switch(config: dict[str, Any]) -> None:
    params = MarketParams.from_config(config["env"]["market"])
    regimes = simulate_regimes(np.random.default_rng(0), 2000, params)
    assert set(regimes.tolist()) == set(range(len(params.drift)))
