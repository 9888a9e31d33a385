"""Train, load, run and evaluate the SAC trading agent (stable-baselines3).

The config (``configs/sac_config.json``) gives the env, the SAC
hyperparameters, the training seed, the evaluation seeds and the model path.
Evaluation runs the deterministic policy on every evaluation seed, so the same
model and config always report the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray
from stable_baselines3 import SAC

from src.rl.sac.metrics import EpisodeMetrics, episode_metrics
from src.rl.sac.trading_env import TradingEnv


def make_env(config: dict[str, Any]) -> TradingEnv:
    """Build the trading env of a validated config."""
    return TradingEnv(config["env"])


def build_model(config: dict[str, Any], env: TradingEnv) -> SAC:
    """Build an untrained SAC model with the config's hyperparameters."""
    sac = config["sac"]
    return SAC(
        "MlpPolicy",
        env,
        learning_rate=sac["learning_rate"],
        buffer_size=sac["buffer_size"],
        learning_starts=sac["learning_starts"],
        batch_size=sac["batch_size"],
        tau=sac["tau"],
        gamma=sac["gamma"],
        train_freq=sac["train_freq"],
        gradient_steps=sac["gradient_steps"],
        ent_coef=sac["ent_coef"],
        policy_kwargs={"net_arch": list(sac["net_arch"])},
        seed=config["seed"],
        device="cpu",
        verbose=0,
    )


def train(config: dict[str, Any]) -> SAC:
    """Train a model for ``sac.total_timesteps`` steps on one CPU thread (reproducible)."""
    torch.set_num_threads(1)
    model = build_model(config, make_env(config))
    model.learn(total_timesteps=config["sac"]["total_timesteps"])
    return model


def space_mismatches(model: SAC, env: TradingEnv) -> list[str]:
    """Return how the model's spaces differ from the env's (empty when they match)."""
    problems = []
    for name in ("observation_space", "action_space"):
        ours, theirs = getattr(model, name), getattr(env, name)
        if ours != theirs:
            problems.append(f"model {name} {ours} does not match the env's {theirs}")
    return problems


class SacAgent:
    """A trained SAC policy that turns observations into target positions."""

    def __init__(self, model: SAC) -> None:
        self.model = model

    @classmethod
    def load(cls, path: Path | str) -> SacAgent:
        """Load a model saved by ``scripts/train_sac.py``."""
        return cls(SAC.load(str(path), device="cpu"))

    def act(self, observation: NDArray[np.float32]) -> NDArray[np.float32]:
        """Return the deterministic target position for one observation."""
        action, _ = self.model.predict(observation, deterministic=True)
        return np.clip(np.asarray(action, dtype=np.float32), -1.0, 1.0)


@dataclass(frozen=True)
class EvaluationReport:
    """Deterministic evaluation over fixed seeds."""

    seeds: tuple[int, ...]
    episodes: tuple[EpisodeMetrics, ...]

    @property
    def mean(self) -> dict[str, float]:
        """Each metric averaged over the episodes."""
        names = ("total_return", "sharpe", "max_drawdown", "turnover", "transaction_costs")
        return {name: float(np.mean([getattr(e, name) for e in self.episodes])) for name in names}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        per_seed = {
            str(seed): e.to_dict() for seed, e in zip(self.seeds, self.episodes, strict=True)
        }
        return {"seeds": list(self.seeds), "mean": self.mean, "episodes": per_seed}


def run_episode(agent: SacAgent, env: TradingEnv, seed: int) -> EpisodeMetrics:
    """Run one deterministic episode from ``seed`` and measure it."""
    observation, _ = env.reset(seed=seed)
    rewards: list[float] = []
    positions: list[float] = []
    done = False
    while not done:
        observation, reward, terminated, truncated, info = env.step(agent.act(observation))
        rewards.append(float(reward))
        positions.append(float(info["position"]))
        done = terminated or truncated
    return episode_metrics(
        np.asarray(rewards), np.asarray(positions), env.settings.transaction_cost
    )


def evaluate(agent: SacAgent, config: dict[str, Any]) -> EvaluationReport:
    """Evaluate the deterministic policy on every seed of ``eval_seeds``."""
    env = make_env(config)
    seeds = tuple(int(seed) for seed in config["eval_seeds"])
    return EvaluationReport(seeds, tuple(run_episode(agent, env, seed) for seed in seeds))
