"""The decision from a parity report: seed 000 §2's inputs derived, and how."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from runbook_lib.decide.tree import Assessment
from runbook_lib.parity.engine import ParityReport
from runbook_lib.parity.stats import MetricComparison

# The results rules whose FAIL is a result difference beyond tolerance (see parity.verdict).
_STEP_RULES = ("spaces", "no_agreement", "step_agreement")


def deciding_metric(metrics: Mapping[str, MetricComparison]) -> MetricComparison | None:
    """The metric whose relative difference is largest against its own margin."""
    return max(metrics.values(), key=lambda m: abs(m.relative_difference) / m.margin, default=None)


def derive_assessment(
    report: ParityReport, *, timed: bool = True
) -> tuple[Assessment, dict[str, Any]]:
    """Seed 000 §2's inputs from a parity report, and how each was derived.

    * crash: the candidate raised in any episode;
    * regression: the throughput regression in %, counted only when its 95%
      interval lies above zero (timing noise is no regression); ``None``
      when not timed (a baseline);
    * difference: the relative difference (%) of the metric furthest from
      equality against its margin, with that margin as the tolerance.
    """
    notes: dict[str, Any] = {}
    regression: float | None = None
    if timed:
        pct, (low, high) = report.throughput_regression_pct, report.throughput_ci_pct
        significant = pct <= 0 or low > 0
        regression = pct if significant else 0.0
        notes["regression"] = f"{pct:+.1f}% (95% CI {low:+.1f}% .. {high:+.1f}%)" + (
            "" if significant else ": the interval includes 0, so none"
        )
    else:
        notes["regression"] = "not measured: a baseline holds no comparable timings"
    metric = deciding_metric(report.metrics)
    difference = metric.relative_difference * 100 if metric else None
    tolerance = metric.margin * 100 if metric else Assessment().tolerance_pct
    metric_decides = difference is not None and abs(difference) > tolerance
    if report.deciding_rule in _STEP_RULES and not metric_decides:  # the steps decide
        difference = 100.0 * (1.0 - report.step_agreement)
        if report.deciding_rule == "spaces":
            difference = 100.0  # no step compares two envs whose spaces differ
        tolerance = 100.0 * (1.0 - report.min_step_agreement)
        notes["difference_rule"] = f"{report.deciding_rule}: {report.reason}"
    notes["difference"] = (
        f"{metric.metric}: {difference:+.2f}% against a margin of {tolerance:g}%"
        if metric
        else "no metric compared"
    )
    if metric is not None and metric.verdict == "INCONCLUSIVE":
        notes["difference"] += "; the verdict is INCONCLUSIVE, so this is a point estimate"
    notes["crash"] = report.reason if report.crash else "no crash"
    facts = Assessment(
        crash_or_data_loss=report.crash is not None,
        regression_pct=regression,
        difference_pct=difference,
        tolerance_pct=tolerance,
    )
    return facts, {
        "metric": metric.metric if metric else None,
        "notes": notes,
        "assessment": facts.to_dict(),
    }


def speed_outcome(pct: float | None, ci: tuple[float, float] | None) -> tuple[str, bool | None]:
    """The speed verdict of a parity run: ("REGRESSION +53.7%", False), and whether it is good.

    A slowdown counts only when its 95% interval lies above zero (timing noise
    is no regression); ``None`` timings (a baseline) are "not measured".
    """
    if pct is None or ci is None:
        return "not measured (baseline)", None
    low, high = ci
    if low > 0:
        return f"REGRESSION {pct:+.1f}%", False
    if high < 0:
        return f"FASTER {pct:+.1f}%", True
    return f"no significant change ({pct:+.1f}%)", True
