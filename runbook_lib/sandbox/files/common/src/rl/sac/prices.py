"""A seeded synthetic market: geometric Brownian motion with regime switches.

Each regime has its own drift and volatility; at every step the market leaves
its regime with a fixed probability. Trending regimes are what gives a trading
agent something to learn, and a fixed seed gives the same path every time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True)
class MarketParams:
    """Parameters of the synthetic market (the ``env.market`` config section)."""

    drift: tuple[float, ...]
    volatility: tuple[float, ...]
    switch_probability: float
    initial_price: float

    @classmethod
    def from_config(cls, section: dict[str, Any]) -> MarketParams:
        """Build from the validated ``env.market`` section of the config."""
        return cls(
            drift=tuple(float(x) for x in section["drift"]),
            volatility=tuple(float(x) for x in section["volatility"]),
            switch_probability=float(section["switch_probability"]),
            initial_price=float(section["initial_price"]),
        )


def simulate_regimes(
    rng: np.random.Generator, steps: int, params: MarketParams
) -> NDArray[np.int64]:
    """Return the regime index of each step (a Markov chain with uniform jumps)."""
    count = len(params.drift)
    regimes = np.empty(steps, dtype=np.int64)
    current = int(rng.integers(count))
    switches = rng.random(steps) < params.switch_probability
    jumps = rng.integers(1, max(count, 2), size=steps)
    for step in range(steps):
        if switches[step] and count > 1:
            current = (current + int(jumps[step])) % count
        regimes[step] = current
    return regimes


def simulate_log_returns(
    rng: np.random.Generator, steps: int, params: MarketParams
) -> NDArray[np.float64]:
    """Return ``steps`` log returns of the GBM, one regime per step (dt = 1)."""
    regimes = simulate_regimes(rng, steps, params)
    drift = np.asarray(params.drift)[regimes]
    sigma = np.asarray(params.volatility)[regimes]
    shocks = rng.standard_normal(steps)
    return (drift - 0.5 * sigma**2) + sigma * shocks


def prices_from_log_returns(
    initial_price: float, log_returns: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Return the price path (``len(log_returns) + 1`` prices) starting at ``initial_price``."""
    return initial_price * np.exp(np.concatenate(([0.0], np.cumsum(log_returns))))
