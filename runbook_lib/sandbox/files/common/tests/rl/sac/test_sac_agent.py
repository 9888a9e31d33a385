"""The trained agent imports, acts sanely and evaluates deterministically."""

from __future__ import annotations

import importlib
import math
from typing import Any

import numpy as np

from src.rl.sac.metrics import episode_metrics, max_drawdown


def test_agent_module_imports() -> None:
    module = importlib.import_module("src.rl.sac.sac_agent")
    assert hasattr(module, "SacAgent") and hasattr(module, "evaluate")


def test_agent_actions_are_finite_and_bounded(agent: Any, config: dict[str, Any]) -> None:
    from src.rl.sac.sac_agent import make_env

    env = make_env(config)
    observation, _ = env.reset(seed=config["eval_seeds"][0])
    for step in range(32):
        action = agent.act(observation)
        # Checked before stepping: a NaN position would poison the next observation.
        assert np.all(np.isfinite(action)), (
            f"the agent produced non-finite actions (NaN/inf) at step {step}: {action}"
        )
        assert np.all(np.abs(action) <= 1.0), f"the agent's target position {action} left [-1, 1]"
        observation, *_ = env.step(action)


def test_evaluation_is_deterministic_and_complete(agent: Any, config: dict[str, Any]) -> None:
    from src.rl.sac.sac_agent import evaluate

    first, second = evaluate(agent, config), evaluate(agent, config)
    assert first.to_dict() == second.to_dict(), "the deterministic policy gave different results"
    assert first.seeds == tuple(config["eval_seeds"])
    for episode in first.episodes:
        assert episode.steps == config["env"]["episode_length"]
        assert all(math.isfinite(v) for v in episode.to_dict().values())
        assert 0.0 <= episode.max_drawdown < 1.0
        assert math.isclose(
            episode.transaction_costs, episode.turnover * config["env"]["transaction_cost"]
        )


def test_metrics_arithmetic() -> None:
    metrics = episode_metrics(
        np.array([0.1, -0.5, 0.2]), np.array([1.0, 0.0, -1.0]), cost_rate=0.01
    )
    assert math.isclose(metrics.total_return, 1.1 * 0.5 * 1.2 - 1.0)
    assert math.isclose(metrics.max_drawdown, 0.5)
    assert metrics.turnover == 3.0 and math.isclose(metrics.transaction_costs, 0.03)
    assert max_drawdown(np.array([1.0, 2.0, 3.0])) == 0.0
