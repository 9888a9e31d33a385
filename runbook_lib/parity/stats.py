"""Paired statistics for parity: bootstrap intervals and an equivalence verdict.

Seed 000 asks whether the candidate's results lie "within tolerance" and
requires "parity within 5%". A point estimate cannot answer that honestly, so
each metric gets a paired bootstrap confidence interval of its relative
difference, and the verdict compares the interval with the margin:

* PASS: the whole interval lies inside ``[-margin, +margin]`` (equivalent);
* FAIL: the whole interval lies outside it (different, with confidence);
* INCONCLUSIVE: the interval straddles a margin; more episodes would decide,
  and :func:`episodes_to_decide` estimates how many.

The interval is a percentile bootstrap over episodes (pairs resampled
together), seeded so a verdict is reproducible.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

Verdict = Literal["PASS", "FAIL", "INCONCLUSIVE"]
DEFAULT_MARGIN = 0.05
DEFAULT_CONFIDENCE = 0.95
DEFAULT_RESAMPLES = 4000


@dataclass(frozen=True)
class MetricComparison:
    """One metric's paired comparison and verdict.

    Attributes:
        metric: The metric's name (``total_reward``, ``blocking_probability``...).
        legacy_mean: Mean over episodes of the legacy env.
        candidate_mean: Mean over episodes of the candidate env.
        relative_difference: ``candidate_mean / legacy_mean - 1`` (absolute
            difference when the legacy mean is zero).
        ci_low: Lower end of the bootstrap interval of the relative difference.
        ci_high: Upper end of that interval.
        margin: The equivalence margin (relative).
        verdict: PASS, FAIL or INCONCLUSIVE.
        episodes: Number of paired episodes.
        episodes_to_decide: For INCONCLUSIVE, the estimated episode count that
            would decide; otherwise ``None``.
    """

    metric: str
    legacy_mean: float
    candidate_mean: float
    relative_difference: float
    ci_low: float
    ci_high: float
    margin: float
    verdict: Verdict
    episodes: int
    episodes_to_decide: int | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


def _as_pairs(legacy: ArrayLike, candidate: ArrayLike) -> tuple[NDArray[np.float64], ...]:
    left = np.asarray(legacy, dtype=np.float64)
    right = np.asarray(candidate, dtype=np.float64)
    if left.ndim != 1 or left.shape != right.shape or left.size == 0:
        raise ValueError(
            f"paired samples must be two non-empty 1-D arrays of one length, "
            f"got shapes {left.shape} and {right.shape}"
        )
    return left, right


def relative_difference(legacy: ArrayLike, candidate: ArrayLike) -> float:
    """``mean(candidate) / mean(legacy) - 1``; the plain difference when the legacy mean is 0."""
    left, right = _as_pairs(legacy, candidate)
    base = float(left.mean())
    if base == 0.0:
        return float(right.mean())
    return float(right.mean() / base - 1.0)


def bootstrap_statistic_samples(
    legacy: ArrayLike,
    candidate: ArrayLike,
    *,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> NDArray[np.float64]:
    """Relative differences of ``resamples`` paired bootstrap resamples."""
    left, right = _as_pairs(legacy, candidate)
    rng = np.random.default_rng(seed)
    index = rng.integers(0, left.size, size=(resamples, left.size))
    left_means = left[index].mean(axis=1)
    right_means = right[index].mean(axis=1)
    if float(left.mean()) == 0.0:
        return np.asarray(right_means, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        samples = right_means / left_means - 1.0
    return np.asarray(samples[np.isfinite(samples)], dtype=np.float64)


def bootstrap_ci(
    legacy: ArrayLike,
    candidate: ArrayLike,
    *,
    confidence: float = DEFAULT_CONFIDENCE,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap interval of the relative difference (pairs resampled together)."""
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence}")
    samples = bootstrap_statistic_samples(legacy, candidate, resamples=resamples, seed=seed)
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(samples, [alpha, 1.0 - alpha])
    return float(low), float(high)


def decide(low: float, high: float, margin: float) -> Verdict:
    """Compare an interval with ``[-margin, +margin]``."""
    if -margin <= low and high <= margin:
        return "PASS"
    if low > margin or high < -margin:
        return "FAIL"
    return "INCONCLUSIVE"


def episodes_to_decide(
    episodes: int, estimate: float, low: float, high: float, margin: float
) -> int | None:
    """Estimate the episode count at which the interval would clear the margin.

    The interval's half-width shrinks as ``1/sqrt(n)``; the count that brings
    it below the distance between the estimate and the nearer margin is the
    answer. ``None`` when the estimate sits on the margin (no count decides).
    """
    half_width = max(high - estimate, estimate - low)
    gap = abs(abs(estimate) - margin)
    if gap <= 1e-12 or half_width <= 0:
        return None
    return max(episodes + 1, math.ceil(episodes * (half_width / gap) ** 2))


def compare_metric(
    metric: str,
    legacy: ArrayLike,
    candidate: ArrayLike,
    *,
    margin: float = DEFAULT_MARGIN,
    confidence: float = DEFAULT_CONFIDENCE,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> MetricComparison:
    """Compare one metric over paired episodes and give its verdict."""
    if margin <= 0:
        raise ValueError(f"margin must be positive, got {margin}")
    left, right = _as_pairs(legacy, candidate)
    estimate = relative_difference(left, right)
    if np.array_equal(left, right):
        low = high = 0.0
    else:
        low, high = bootstrap_ci(left, right, confidence=confidence, resamples=resamples, seed=seed)
    verdict = decide(low, high, margin)
    needed = (
        episodes_to_decide(left.size, estimate, low, high, margin)
        if verdict == "INCONCLUSIVE"
        else None
    )
    return MetricComparison(
        metric=metric,
        legacy_mean=float(left.mean()),
        candidate_mean=float(right.mean()),
        relative_difference=estimate,
        ci_low=low,
        ci_high=high,
        margin=margin,
        verdict=verdict,
        episodes=int(left.size),
        episodes_to_decide=needed,
    )


def overall_verdict(verdicts: list[Verdict]) -> Verdict:
    """FAIL if any metric fails, else INCONCLUSIVE if any is, else PASS."""
    if "FAIL" in verdicts:
        return "FAIL"
    return "INCONCLUSIVE" if "INCONCLUSIVE" in verdicts else "PASS"


def tost_paired(
    legacy: ArrayLike, candidate: ArrayLike, *, low: float, high: float
) -> tuple[float, float]:
    """Two one-sided paired t-tests of ``low < mean(candidate - legacy) < high``.

    Returns the two one-sided p-values (lower bound, upper bound); equivalence
    holds at level alpha when both are below alpha. Complements the bootstrap
    for reviewers who expect the classical test.
    """
    left, right = _as_pairs(legacy, candidate)
    diffs = right - left
    n = diffs.size
    sd = float(diffs.std(ddof=1)) if n > 1 else 0.0
    mean = float(diffs.mean())
    if sd == 0.0:
        return (0.0 if mean > low else 1.0, 0.0 if mean < high else 1.0)
    from scipy import stats

    se = sd / math.sqrt(n)
    p_lower = float(stats.t.sf((mean - low) / se, df=n - 1))
    p_upper = float(stats.t.cdf((mean - high) / se, df=n - 1))
    return p_lower, p_upper
