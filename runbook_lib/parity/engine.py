"""Turn lockstep episodes into a parity report with a PASS / FAIL / INCONCLUSIVE verdict."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from runbook_lib.parity.backends import PROCESS_POOL, Backend, run_lockstep
from runbook_lib.parity.lockstep import EpisodeDone, EpisodeRecord, ParitySpec, ignore
from runbook_lib.parity.remote import profile_env
from runbook_lib.parity.stats import (
    DEFAULT_MARGIN,
    MetricComparison,
    Verdict,
    compare_metric,
    overall_verdict,
)
from runbook_lib.parity.verdict import judge, speed_verdict
from runbook_lib.target.worker.stash import WorkerStash

PROFILE_THRESHOLD_PCT = 20.0


@dataclass(frozen=True)
class ParityReport:
    """The answer to "does the candidate behave like the legacy env?"."""

    verdict: Verdict
    reason: str
    metrics: dict[str, MetricComparison]
    first_divergence: dict[str, Any] | None
    step_agreement: float
    steps: int
    episodes: int
    throughput_regression_pct: float
    throughput_ci_pct: tuple[float, float]
    legacy_steps_per_s: float
    candidate_steps_per_s: float
    crash: dict[str, Any] | None
    spec: dict[str, Any]
    profile: dict[str, list[dict[str, Any]]] | None = None
    deciding_rule: str = "metrics"
    speed_verdict: str = "NOT_MEASURED"
    space_differences: list[str] = field(default_factory=list)
    min_step_agreement: float = 1.0
    records: list[EpisodeRecord] = field(default_factory=list, repr=False)

    def to_dict(self, *, with_steps: bool = False) -> dict[str, Any]:
        """JSON-ready form; per-step series only with ``with_steps``."""
        data = asdict(self)
        data["metrics"] = {name: m.to_dict() for name, m in self.metrics.items()}
        episodes = []
        for record in self.records:
            item = record.to_dict()
            if not with_steps:
                item.pop("reward_gap")
                item.pop("mask_valid")
            episodes.append(item)
        data["records"] = episodes
        return data


def _series(records: Sequence[EpisodeRecord]) -> dict[str, tuple[list[float], list[float]]]:
    series: dict[str, tuple[list[float], list[float]]] = {
        "total_reward": ([r.legacy_reward for r in records], [r.candidate_reward for r in records]),
    }
    legacy_keys = {k for r in records for k in r.legacy_info}
    keys = sorted(legacy_keys & {k for r in records for k in r.candidate_info})
    for key in keys:
        usable = [r for r in records if key in r.legacy_info and key in r.candidate_info]
        left = [r.legacy_info[key] for r in usable]
        series[key] = (left, [r.candidate_info[key] for r in usable])
    return series


def throughput(
    records: Sequence[EpisodeRecord], *, resamples: int = 2000, seed: int = 0
) -> tuple[float, tuple[float, float], float, float]:
    """Regression in % (candidate slower > 0) with a bootstrap 95% interval, and both steps/s."""
    steps = np.array([r.length for r in records], dtype=np.float64)
    legacy = np.array([r.legacy_seconds for r in records], dtype=np.float64)
    candidate = np.array([r.candidate_seconds for r in records], dtype=np.float64)
    if legacy.sum() <= 0 or candidate.sum() <= 0:
        return 0.0, (0.0, 0.0), 0.0, 0.0
    point = (1.0 - legacy.sum() / candidate.sum()) * 100.0
    rng = np.random.default_rng(seed)
    index = rng.integers(0, len(records), size=(resamples, len(records)))
    samples = (1.0 - legacy[index].sum(axis=1) / candidate[index].sum(axis=1)) * 100.0
    low, high = np.quantile(samples, [0.025, 0.975])
    return (
        float(point),
        (float(low), float(high)),
        float(steps.sum() / legacy.sum()),
        float(steps.sum() / candidate.sum()),
    )


def build_report(
    spec: ParitySpec,
    records: Sequence[EpisodeRecord],
    *,
    margins: Mapping[str, float] | None = None,
    seed: int = 0,
    spaces: Sequence[str] = (),
) -> ParityReport:
    """Compare every metric over the paired episodes; the verdicts by :mod:`.verdict`'s rules.

    ``spaces`` are the differences between the two envs' spaces found before the run.
    """
    margins = margins or {}
    crash = next((r.error for r in records if r.error), None)
    steps = sum(r.length for r in records)
    agreeing = sum(r.agreeing_steps for r in records)
    first = next((r.first_divergence for r in records if r.first_divergence), None)
    complete = [r for r in records if r.error is None]
    metrics = {
        name: compare_metric(name, left, right, margin=margins.get(name, DEFAULT_MARGIN), seed=seed)
        for name, (left, right) in _series(complete).items()
        if left
    }
    regression, interval, legacy_sps, candidate_sps = throughput(records, seed=seed)
    agreement = agreeing / steps if steps else 0.0
    scalar = overall_verdict([m.verdict for m in metrics.values()])
    judged = judge(
        spaces=spaces,
        crash=crash,
        steps=steps,
        agreement=agreement,
        min_agreement=spec.min_step_agreement,
        metrics=(scalar, _reason(scalar, metrics, first)),
    )
    verdict, reason = judged.verdict, judged.reason
    return ParityReport(
        verdict=verdict,
        reason=reason,
        metrics=metrics,
        first_divergence=first,
        step_agreement=agreement,
        steps=steps,
        episodes=len(records),
        throughput_regression_pct=regression,
        throughput_ci_pct=interval,
        legacy_steps_per_s=legacy_sps,
        candidate_steps_per_s=candidate_sps,
        crash=crash,
        spec=asdict(spec),
        records=list(records),
        deciding_rule=judged.rule,
        speed_verdict=speed_verdict(regression, interval) if legacy_sps else "NOT_MEASURED",
        space_differences=list(spaces),
        min_step_agreement=spec.min_step_agreement,
    )


def _reason(
    verdict: Verdict, metrics: Mapping[str, MetricComparison], first: dict[str, Any] | None
) -> str:
    where = ""
    if first:
        where = (
            f"; first divergence at episode {first['episode']}, step {first['step']} "
            f"({first['field']})"
        )
    if verdict == "PASS":
        return f"every metric is equivalent within its margin{where}"
    if verdict == "FAIL":
        failed = [m for m in metrics.values() if m.verdict == "FAIL"]
        names = ", ".join(f"{m.metric} {m.relative_difference:+.1%}" for m in failed)
        return f"outside the margin with confidence: {names}{where}"
    undecided = [m for m in metrics.values() if m.verdict == "INCONCLUSIVE"]
    needed = max((m.episodes_to_decide or 0) for m in undecided)
    names = ", ".join(m.metric for m in undecided)
    return f"intervals straddle the margin for {names}; about {needed} episodes would decide{where}"


def _profile_or_reason(spec: ParitySpec, role: str, env_type: str) -> list[dict[str, Any]]:
    """The profile, or one row saying why there is none (a diagnostic never ends the run)."""
    try:
        return profile_env(spec, role, env_type)
    except Exception as exc:  # the verdict stands without a profile
        return [{"function": f"(no profile: {type(exc).__name__}: {exc})"[:300], "own_s": 0.0}]


def run_parity(
    spec: ParitySpec,
    *,
    workers: int = 1,
    margins: Mapping[str, float] | None = None,
    profile_when_slower_pct: float = PROFILE_THRESHOLD_PCT,
    backend: Backend = PROCESS_POOL,
    spaces: Sequence[str] = (),
    done: EpisodeDone = ignore,
    stash: WorkerStash | None = None,
) -> ParityReport:
    """Run the lockstep episodes and build the report; profile both envs when slower.

    ``done(record)`` is called in this process as each episode is done; the
    episodes run here take a worker waiting in ``stash``, if any.
    """
    records = run_lockstep(spec, workers=workers, backend=backend, done=done, stash=stash)
    report = build_report(spec, records, margins=margins, spaces=spaces)
    if report.throughput_regression_pct > profile_when_slower_pct and report.crash is None:
        # Each side profiles in a worker process of its own: both run at once, one per core.
        with ThreadPoolExecutor(2, thread_name_prefix="runbook-profile") as pool:
            futures = {
                role: pool.submit(_profile_or_reason, spec, role, env_type)
                for role, env_type in (("legacy", spec.legacy), ("candidate", spec.candidate))
            }
        profiles = {role: future.result() for role, future in futures.items()}
        report = ParityReport(**{**report.__dict__, "profile": profiles})
    return report
