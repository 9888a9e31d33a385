from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from runbook_lib.parity.stats import (
    bootstrap_ci,
    compare_metric,
    decide,
    episodes_to_decide,
    overall_verdict,
    relative_difference,
    tost_paired,
)

RNG = np.random.default_rng(1234)
LEGACY = RNG.normal(80.0, 6.0, size=40)
CANDIDATE = LEGACY * 1.03 + RNG.normal(0.0, 1.5, size=40)


def ratio(legacy: np.ndarray, candidate: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.asarray(candidate.mean(axis=axis) / legacy.mean(axis=axis) - 1.0)


def test_relative_difference_matches_definition() -> None:
    assert relative_difference(LEGACY, CANDIDATE) == pytest.approx(
        CANDIDATE.mean() / LEGACY.mean() - 1
    )
    assert relative_difference([0.0, 0.0], [0.1, 0.3]) == pytest.approx(0.2)


def test_bootstrap_ci_agrees_with_scipy_percentile_bootstrap() -> None:
    ours = bootstrap_ci(LEGACY, CANDIDATE, resamples=20000, seed=7)
    reference = stats.bootstrap(
        (LEGACY, CANDIDATE),
        ratio,
        paired=True,
        vectorized=True,
        method="percentile",
        n_resamples=20000,
        confidence_level=0.95,
        rng=np.random.default_rng(7),
    ).confidence_interval
    assert ours[0] == pytest.approx(reference.low, abs=2e-3)
    assert ours[1] == pytest.approx(reference.high, abs=2e-3)
    assert ours[0] < relative_difference(LEGACY, CANDIDATE) < ours[1]


def test_bootstrap_is_reproducible_for_a_seed() -> None:
    assert bootstrap_ci(LEGACY, CANDIDATE, seed=3) == bootstrap_ci(LEGACY, CANDIDATE, seed=3)
    assert bootstrap_ci(LEGACY, CANDIDATE, seed=3) != bootstrap_ci(LEGACY, CANDIDATE, seed=4)


def test_tost_matches_scipy_one_sided_t_tests() -> None:
    diffs = CANDIDATE - LEGACY
    low, high = -4.0, 4.0
    p_lower, p_upper = tost_paired(LEGACY, CANDIDATE, low=low, high=high)
    assert p_lower == pytest.approx(stats.ttest_1samp(diffs, low, alternative="greater").pvalue)
    assert p_upper == pytest.approx(stats.ttest_1samp(diffs, high, alternative="less").pvalue)


@pytest.mark.parametrize(
    ("low", "high", "verdict"),
    [
        (-0.01, 0.01, "PASS"),
        (-0.05, 0.05, "PASS"),  # touching the margin is still inside
        (0.051, 0.09, "FAIL"),
        (-0.2, -0.06, "FAIL"),
        (0.02, 0.07, "INCONCLUSIVE"),
        (-0.07, -0.01, "INCONCLUSIVE"),
        (-0.1, 0.1, "INCONCLUSIVE"),
    ],
)
def test_decide_table(low: float, high: float, verdict: str) -> None:
    assert decide(low, high, 0.05) == verdict


def test_identical_samples_pass_with_a_zero_interval() -> None:
    result = compare_metric("total_reward", LEGACY, LEGACY)
    assert (result.verdict, result.ci_low, result.ci_high) == ("PASS", 0.0, 0.0)


def test_constant_bias_fails_with_confidence() -> None:
    result = compare_metric("total_reward", LEGACY, LEGACY * 0.9)
    assert result.verdict == "FAIL"
    assert result.ci_high < -0.05


def test_noisy_small_sample_is_inconclusive_and_suggests_more_episodes() -> None:
    rng = np.random.default_rng(5)
    legacy = rng.normal(50.0, 10.0, size=6)
    candidate = legacy * 1.04 + rng.normal(0.0, 4.0, size=6)
    result = compare_metric("total_reward", legacy, candidate)
    assert result.verdict == "INCONCLUSIVE"
    assert result.episodes_to_decide is not None and result.episodes_to_decide > 6


def test_episodes_to_decide_scales_with_the_square_of_the_width() -> None:
    assert episodes_to_decide(10, 0.0, -0.1, 0.1, 0.05) == 40
    assert episodes_to_decide(10, 0.05, 0.0, 0.1, 0.05) is None


def test_overall_verdict() -> None:
    assert overall_verdict(["PASS", "PASS"]) == "PASS"
    assert overall_verdict(["PASS", "INCONCLUSIVE"]) == "INCONCLUSIVE"
    assert overall_verdict(["INCONCLUSIVE", "FAIL"]) == "FAIL"


@pytest.mark.parametrize(("left", "right"), [([], []), ([1.0], [1.0, 2.0]), ([[1.0]], [[1.0]])])
def test_rejects_unpaired_input(left: list[float], right: list[float]) -> None:
    with pytest.raises(ValueError, match="paired samples"):
        compare_metric("m", left, right)
