"""Performance of a trading episode: return, Sharpe, drawdown, turnover, costs."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
from numpy.typing import NDArray

PERIODS_PER_YEAR = 252


@dataclass(frozen=True)
class EpisodeMetrics:
    """What one episode earned and what it cost.

    Attributes:
        total_return: Compounded net return over the episode (0.05 = +5 %).
        sharpe: Annualized Sharpe ratio of the per-step net returns (0 if flat).
        max_drawdown: Largest fall of equity from its running peak (0.1 = -10 %).
        turnover: Sum of absolute position changes, the first entry included.
        transaction_costs: Sum of the costs paid, as a fraction of equity.
        steps: Number of steps.
    """

    total_return: float
    sharpe: float
    max_drawdown: float
    turnover: float
    transaction_costs: float
    steps: int

    def to_dict(self) -> dict[str, float | int]:
        """JSON-ready form."""
        return asdict(self)


def sharpe_ratio(returns: NDArray[np.float64]) -> float:
    """Annualized Sharpe ratio (risk-free rate 0); 0 when the returns do not vary."""
    std = float(np.std(returns))
    if len(returns) < 2 or std == 0.0:
        return 0.0
    return float(np.mean(returns)) / std * math.sqrt(PERIODS_PER_YEAR)


def max_drawdown(equity: NDArray[np.float64]) -> float:
    """Largest relative fall from a running peak of the equity curve."""
    peaks = np.maximum.accumulate(equity)
    return float(np.max(1.0 - equity / peaks)) if len(equity) else 0.0


def episode_metrics(
    net_returns: NDArray[np.float64], positions: NDArray[np.float64], cost_rate: float
) -> EpisodeMetrics:
    """Compute the metrics of one episode.

    Args:
        net_returns: Per-step return after costs (the env's rewards).
        positions: Position held after each step's action, starting from flat.
        cost_rate: Transaction cost per unit of position change.
    """
    changes = np.abs(np.diff(np.concatenate(([0.0], positions))))
    equity = np.cumprod(1.0 + np.concatenate(([0.0], net_returns)), dtype=np.float64)
    turnover = float(np.sum(changes))
    return EpisodeMetrics(
        total_return=float(equity[-1] - 1.0),
        sharpe=sharpe_ratio(net_returns),
        max_drawdown=max_drawdown(equity),
        turnover=turnover,
        transaction_costs=turnover * cost_rate,
        steps=len(net_returns),
    )
