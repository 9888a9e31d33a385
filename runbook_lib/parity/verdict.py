"""The rules that decide a parity run's results verdict, and its separate speed verdict.

The results verdict takes the first rule that applies, in this order, and the
report names it: ``spaces`` (the two envs' spaces differ: FAIL before any
episode counts), ``crash`` (the candidate raised: FAIL), ``no_agreement`` (not
one step agreed: FAIL, whatever the threshold), ``step_agreement`` (below
``[parity] min_step_agreement``: FAIL), and only then ``metrics`` (the scalar
metrics' equivalence test: PASS, FAIL or INCONCLUSIVE). Speed is judged on its
own: a green results verdict never stands over a regression.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from runbook_lib.parity.stats import Verdict

RULES = ("spaces", "crash", "no_agreement", "step_agreement", "metrics")
SPEED_VERDICTS = ("REGRESSION", "FASTER", "NO_CHANGE", "NOT_MEASURED")


@dataclass(frozen=True)
class Judgement:
    """The results verdict, the rule that decided it, and why."""

    verdict: Verdict
    rule: str
    reason: str


def judge(
    *,
    spaces: Sequence[str],
    crash: dict[str, Any] | None,
    steps: int,
    agreement: float,
    min_agreement: float,
    metrics: tuple[Verdict, str],
) -> Judgement:
    """Apply the rules of the module docstring in order; ``metrics`` is (verdict, reason)."""
    if spaces:
        return Judgement("FAIL", "spaces", "the envs' spaces differ: " + "; ".join(spaces))
    if crash is not None:
        reason = (
            f"the candidate crashed at episode {crash['episode']}, step {crash['step']}: "
            f"{crash['type']}: {crash['message']}"
        )
        return Judgement("FAIL", "crash", reason)
    scalar = f" (the metrics alone: {metrics[0]}, {metrics[1]})"
    if steps > 0 and agreement <= 0.0:
        return Judgement("FAIL", "no_agreement", f"no step of {steps} agreed" + scalar)
    if agreement < min_agreement:
        reason = f"{agreement:.2%} of steps agreed; at least {min_agreement:.2%} must" + scalar
        return Judgement("FAIL", "step_agreement", reason)
    return Judgement(metrics[0], "metrics", metrics[1])


def speed_verdict(pct: float | None, ci: tuple[float, float] | None) -> str:
    """``REGRESSION`` when the slowdown's 95% interval lies above 0, ``FASTER`` below it."""
    if pct is None or ci is None:
        return "NOT_MEASURED"
    if ci[0] > 0:
        return "REGRESSION"
    if ci[1] < 0:
        return "FASTER"
    return "NO_CHANGE"


def space_differences(legacy: dict[str, Any], candidate: dict[str, Any]) -> list[str]:
    """Where the envs' observation and action spaces differ (keys, type, shape, dtype, bounds)."""
    found: list[str] = []
    for name in ("observation_space", "action_space"):
        _compare(legacy.get(name) or {}, candidate.get(name) or {}, name, found)
    return found


def _compare(left: dict[str, Any], right: dict[str, Any], where: str, found: list[str]) -> None:
    if left.get("type") != right.get("type"):
        found.append(f"{where} is {left.get('type')} vs {right.get('type')}")
        return
    if left.get("type") == "Dict":
        keys_l, keys_c = dict(left["spaces"]), dict(right["spaces"])
        only_l, only_c = sorted(set(keys_l) - set(keys_c)), sorted(set(keys_c) - set(keys_l))
        if only_l or only_c:
            found.append(f"{where} keys only in legacy {only_l}, only in candidate {only_c}")
        for key in [k for k in keys_l if k in keys_c]:
            _compare(keys_l[key], keys_c[key], f"{where}[{key!r}]", found)
        return
    if left.get("type") == "Tuple":
        if len(left["spaces"]) != len(right["spaces"]):
            found.append(f"{where} has {len(left['spaces'])} vs {len(right['spaces'])} items")
            return
        for i, (a, b) in enumerate(zip(left["spaces"], right["spaces"], strict=True)):
            _compare(a, b, f"{where}[{i}]", found)
        return
    for attribute in ("shape", "dtype", "low", "high", "n", "nvec", "start"):
        if left.get(attribute) != right.get(attribute):
            found.append(f"{where} {attribute} differs")
