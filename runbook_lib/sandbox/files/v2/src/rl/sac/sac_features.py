"""Extra observation features of release 2.0, computed from the return window.

* ``volatility``  standard deviation of the window's log returns
* ``momentum``    sum of the window's log returns over sqrt(window) (a t-statistic
                  without the volatility), so trends stand out from noise
* ``drawdown``    how far the last price sits below the window's highest price

Returns are scaled by ``return_scale`` like the raw window, so every feature is
of order one. Adding features changes the observation size: a model trained on
release 1.0's observations cannot be used with this env, and the other way round.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
from numpy.typing import NDArray

Feature = Callable[[NDArray[np.float64], float], float]


def volatility(window: NDArray[np.float64], scale: float) -> float:
    """Standard deviation of the window's log returns, scaled."""
    return float(np.std(window)) * scale


def momentum(window: NDArray[np.float64], scale: float) -> float:
    """Sum of the window's log returns over sqrt(len(window)), scaled."""
    return float(np.sum(window)) / math.sqrt(len(window)) * scale


def drawdown(window: NDArray[np.float64], scale: float) -> float:
    """Fall of the last price from the window's peak, in log terms, scaled."""
    path = np.concatenate(([0.0], np.cumsum(window)))
    return float(np.max(path) - path[-1]) * scale


FEATURES: dict[str, Feature] = {
    "volatility": volatility,
    "momentum": momentum,
    "drawdown": drawdown,
}


def feature_vector(
    window: NDArray[np.float64], names: Sequence[str], scale: float
) -> NDArray[np.float64]:
    """Return the named features of ``window``, in the order of ``names``."""
    unknown = [name for name in names if name not in FEATURES]
    if unknown:
        raise ValueError(f"unknown observation features {unknown}; known: {sorted(FEATURES)}")
    return np.asarray([FEATURES[name](window, scale) for name in names], dtype=np.float64)
