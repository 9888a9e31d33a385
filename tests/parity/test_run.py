"""Parity for an incident on a real sandbox: verdicts, decisions, saved files, workers.

Against a recorded baseline: ``test_baseline_run``.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil
import pytest

from runbook_lib.base.errors import InvalidInputError, WorkspaceError
from runbook_lib.evidence.layout import PARITY_FILE, PLOTS_DIR
from runbook_lib.incident.store import incident_dir, open_incident
from runbook_lib.parity.decision import derive_assessment
from runbook_lib.parity.engine import ParityReport, build_report
from runbook_lib.parity.inputs import PolicyChoice, choose_seeds, parse_seeds
from runbook_lib.parity.lockstep import EpisodeRecord, ParitySpec
from runbook_lib.parity.run import (
    ParityOutcome,
    run_incident_parity,
)
from runbook_lib.parity.stats import compare_metric
from runbook_lib.sandbox.faults import set_faults
from runbook_lib.target.manifest import load_manifest
from tests.parity.parityutil import (
    DIVERGENT_SEEDS,
    CleanRun,
    PoolRun,
    as_json,
    parity,
    set_divergent_faults,
    timeless,
)

pytestmark = pytest.mark.filterwarnings("ignore:GeneralSimEnv is deprecated:DeprecationWarning")


def outcomes(outcome: ParityOutcome) -> list[str]:
    """The deciding outcome and every other branch of the tree that applied."""
    return [outcome.decision.outcome, *(f.outcome for f in outcome.decision.also)]


def others_cpu_share(run: Callable[[], ParityOutcome]) -> tuple[ParityOutcome, float]:
    """Run ``run`` in this process; also return the share of all CPUs other processes used."""
    me, started = psutil.Process(), time.monotonic()
    total, mine = psutil.cpu_times(), me.cpu_times()
    result = run()
    wall = (time.monotonic() - started) * (psutil.cpu_count() or 1)
    busy = sum(psutil.cpu_times()[:2]) - sum(total[:2])
    own = sum(me.cpu_times()[:2]) - sum(mine[:2])
    return result, max(0.0, busy - own) / wall


def legacy_reward_bias_for(relative: float, records: list[EpisodeRecord]) -> float:
    """The per-step reward bias that shifts the mean total reward by ``relative``."""
    mean = sum(r.legacy_reward for r in records) / len(records)
    return relative * mean / records[0].length


# --- the acceptance cases ---------------------------------------------------------------------


def test_no_fault_passes_with_every_step_identical(clean_run: CleanRun) -> None:
    outcome = clean_run.outcome
    report = outcome.report
    assert report.verdict == "PASS"
    assert report.step_agreement == 1.0 and report.steps == 4000
    assert report.first_divergence is None
    assert {m.verdict for m in report.metrics.values()} == {"PASS"}
    assert set(report.metrics) == {"total_reward", "blocking_probability"}
    assert outcome.envs["legacy"]["class"] == "GeneralSimEnv"
    assert outcome.envs["candidate"]["class"] == "UnifiedSimEnv"
    assert "decided by env_type=unified" in outcome.envs["candidate"]["log"][0]
    # Timing noise may add a "document and monitor" finding; the results are within tolerance.
    assert "document-within-tolerance" in outcomes(outcome)
    assert outcome.decision.assessment.difference_pct == 0.0
    assert not outcome.decision.assessment.crash_or_data_loss
    assert clean_run.after == clean_run.before, "a parity run changed the target"

    # parity.json is the --json object, written in the incident's directory with the plots
    directory = incident_dir(clean_run.archive, outcome.incident_id)
    saved = json.loads((directory / PARITY_FILE).read_text())
    assert saved == json.loads(json.dumps(outcome.to_dict(), default=str))
    for key in (
        "verdict",
        "metrics",
        "first_divergence",
        "step_agreement",
        "throughput_regression_pct",
        "decision",
    ):
        assert key in saved
    assert saved["first_divergence"] is None
    assert [r["length"] for r in saved["records"]] == [1000] * 4
    assert saved["records"][0]["legacy_info"]["blocking_probability"] > 0
    plots = sorted(p.name for p in (directory / PLOTS_DIR).iterdir())
    assert len(plots) == 12 and "parity_throughput.svg" in plots
    assert saved["files"][PARITY_FILE] == [str(directory / PARITY_FILE)]


def test_reward_bias_fails_on_total_reward_naming_the_first_divergence(
    fresh_sandbox: Path, tmp_path: Path
) -> None:
    set_faults(fresh_sandbox, reward_bias=-0.05)
    outcome = parity(fresh_sandbox, tmp_path, episodes=4)
    report = outcome.report
    assert report.verdict == "FAIL"
    total = report.metrics["total_reward"]
    assert total.verdict == "FAIL" and total.ci_high < -0.05
    assert report.metrics["blocking_probability"].verdict == "PASS"
    assert report.first_divergence == {
        "episode": 0,
        "step": 1,
        "field": "reward",
        "legacy": 1.0,
        "candidate": 0.95,
    }
    assert report.step_agreement == 0.0
    assert "total_reward" in report.reason
    assert outcome.inputs["metric"] == "total_reward"
    assert outcome.decision.assessment.difference_pct == pytest.approx(
        total.relative_difference * 100
    )
    assert "investigate" in outcomes(outcome)  # outside tolerance, not yet known to be a bug


def test_slowdown_is_a_regression_near_33_percent_and_is_profiled(
    fresh_sandbox: Path, tmp_path: Path
) -> None:
    set_faults(fresh_sandbox, slowdown=1.5)
    # The fault stretches each step's wall time, an OS preemption inside it included, so
    # other processes hogging the CPUs inflate the regression. On a busy machine, measure again.
    for _ in range(3):
        outcome, others = others_cpu_share(lambda: parity(fresh_sandbox, tmp_path, episodes=6))
        report = outcome.report
        pct, (low, high) = report.throughput_regression_pct, report.throughput_ci_pct
        if 20 < pct <= 55 or others < 0.25:
            break
    # A 1.5x stretch of each step's work makes the candidate about 50% slower in time per
    # step, a ratio of the two envs measured side by side, never a wall-clock figure. What
    # the decision needs is the 20% line of seed 000; the upper bound is generous because a
    # neighbour's load inflates the stretched steps more than the plain ones.
    assert 20 < pct <= 150, (pct, low, high, f"other processes used {others:.0%} of the CPUs")
    assert low <= pct <= high and low > 0
    assert report.verdict == "PASS"  # same results, only slower
    assert outcome.decision.outcome == "code-rollback"
    assert outcome.decision.summary == "code-level rollback + profile and optimize"
    assert outcome.decision.strategy == "code"
    assert report.profile is not None
    assert set(report.profile) == {"legacy", "candidate"}
    legacy_top = [row["function"] for row in report.profile["legacy"]]
    candidate_top = [row["function"] for row in report.profile["candidate"]]
    assert any("general_sim_env.py" in name for name in legacy_top)
    assert any("_stretch" in name for name in candidate_top), candidate_top  # the slowdown itself


def test_crash_takes_the_crash_branch(fresh_sandbox: Path, tmp_path: Path) -> None:
    set_faults(fresh_sandbox, crash_at_step=25)
    outcome = parity(fresh_sandbox, tmp_path, episodes=3)
    report = outcome.report
    assert report.verdict == "FAIL"
    assert report.crash is not None and report.crash["step"] == 25
    assert report.crash["type"] == "RuntimeError"
    assert "crashed at episode 0, step 25" in report.reason
    decision = outcome.decision
    assert decision.outcome == "immediate-rollback"
    assert decision.strategy == "env-var"
    assert decision.path[:3] == ("Issue Detected", "Critical (crash, data loss)?", "Yes")
    assert any("critical" in action for action in decision.actions)
    assert (incident_dir(tmp_path, outcome.incident_id) / PARITY_FILE).is_file()


def test_a_bias_at_the_margin_with_few_episodes_is_inconclusive(
    fresh_sandbox: Path, tmp_path: Path, clean_run: CleanRun
) -> None:
    # The healthy run's first three episodes are those of --episodes 3 (seeds 0-2).
    clean = clean_run.outcome.report.records[:3]
    assert [r.seed for r in clean] == [0, 1, 2]
    rewards = sorted(r.legacy_reward for r in clean)
    spread = (rewards[-1] - rewards[0]) / (sum(rewards) / 3)
    assert spread > 0.01, "the episodes must differ for any interval to straddle the margin"
    # Just past the 5% margin: the point estimate is outside, its interval straddles it.
    set_faults(fresh_sandbox, reward_bias=legacy_reward_bias_for(-0.05 * (1 + spread / 4), clean))
    outcome = parity(fresh_sandbox, tmp_path, episodes=3)
    total = outcome.report.metrics["total_reward"]
    assert total.ci_low < -0.05 < total.ci_high, total
    assert total.verdict == "INCONCLUSIVE"
    # Every step's reward differs: the step rule decides, whatever the interval says.
    assert outcome.report.verdict == "FAIL"
    assert outcome.report.deciding_rule == "no_agreement"
    assert total.episodes_to_decide is not None and total.episodes_to_decide > 3
    assert outcome.suggested_episodes == total.episodes_to_decide
    assert f"about {total.episodes_to_decide} episodes would decide" in outcome.report.reason
    assert "point estimate" in outcome.inputs["notes"]["difference"]
    assert outcome.to_dict()["suggested_episodes"] == total.episodes_to_decide


# --- parallel runs ------------------------------------------------------------------------------


def test_two_workers_give_the_records_of_one(
    fresh_sandbox: Path, tmp_path: Path, divergent_pool: PoolRun
) -> None:
    set_divergent_faults(fresh_sandbox)
    one = parity(fresh_sandbox, tmp_path, seeds=DIVERGENT_SEEDS, workers=1).report
    two = divergent_pool  # the same seeds and faults on two workers, run once for the session
    assert [r["seed"] for r in two.records] == [3, 1, 4, 5, 9]
    assert as_json(timeless(one.records)) == two.records
    assert as_json(one.first_divergence) == two.first_divergence
    assert one.first_divergence is not None and one.first_divergence["field"] == "obs"
    assert one.crash is not None and one.crash["step"] == 900
    assert two.crash is not None and two.crash["step"] == 900


# --- decision inputs ----------------------------------------------------------------------------


def fake_report(legacy_s: list[float], candidate_s: list[float]) -> ParityReport:
    records = [
        EpisodeRecord(
            episode=i,
            seed=i,
            length=100,
            legacy_reward=90.0,
            candidate_reward=90.0,
            agreeing_steps=100,
            legacy_seconds=a,
            candidate_seconds=b,
        )
        for i, (a, b) in enumerate(zip(legacy_s, candidate_s, strict=True))
    ]
    return build_report(ParitySpec(root=".", factory="m:f", seeds=(0, 1, 2, 3)), records)


def test_timing_noise_is_no_regression() -> None:
    noisy = fake_report([1.0, 1.0, 1.0, 1.0], [1.3, 0.8, 1.2, 0.9])
    assert noisy.throughput_ci_pct[0] < 0 < noisy.throughput_regression_pct
    facts, inputs = derive_assessment(noisy)
    assert facts.regression_pct == 0.0
    assert "the interval includes 0, so none" in inputs["notes"]["regression"]
    slow = fake_report([1.0] * 4, [1.5, 1.6, 1.4, 1.5])
    assert derive_assessment(slow)[0].regression_pct == pytest.approx(
        slow.throughput_regression_pct
    )
    assert derive_assessment(slow, timed=False)[0].regression_pct is None


def test_the_deciding_metric_is_the_furthest_from_its_margin() -> None:
    report = fake_report([1.0] * 4, [1.0] * 4)
    metrics = {
        "total_reward": compare_metric("total_reward", [100, 101, 99], [96, 97, 95], margin=0.05),
        "blocking_probability": compare_metric(
            "blocking_probability", [0.1, 0.11, 0.09], [0.106, 0.116, 0.096], margin=0.2
        ),
    }
    facts, inputs = derive_assessment(dataclasses.replace(report, metrics=metrics))
    assert inputs["metric"] == "total_reward"  # -4% of 5% beats +6% of 20%
    assert facts.tolerance_pct == pytest.approx(5.0)
    assert facts.difference_pct == pytest.approx(-4.0)


# --- bad input: refused before anything runs or is written ---------------------------------------


def test_inputs_are_checked_before_anything_is_written(sandbox: Path, tmp_path: Path) -> None:
    manifest = load_manifest(sandbox)
    incident = open_incident(tmp_path, "t", "low", "other")
    directory = incident_dir(tmp_path, incident.id)
    bad_calls: list[tuple[dict[str, Any], str]] = [
        ({"workers": 0}, "--workers 0 is out of range"),
        ({"episodes": 0}, "--episodes 0 is out of range"),
        ({"episodes": 2, "seeds": (1, 2, 3)}, "disagrees with the 3 seeds"),
        ({"policy": PolicyChoice("model")}, "policy 'model' needs an SB3 model file"),
        ({"policy": PolicyChoice("random", tmp_path / "m.zip")}, "a model was given"),
        ({"policy": PolicyChoice("model", tmp_path, "XGB")}, "unknown SB3 algorithm 'XGB'"),
        ({"baseline": tmp_path / "none.json"}, "does not exist"),
    ]
    for kwargs, message in bad_calls:
        with pytest.raises(InvalidInputError, match=message):
            run_incident_parity(manifest, tmp_path, incident.id, **kwargs)
    with pytest.raises(InvalidInputError, match="no incident INC-20200101-0000-abcd"):
        run_incident_parity(manifest, tmp_path, "INC-20200101-0000-abcd")
    assert sorted(p.name for p in directory.iterdir()) == [".incident.lock", "incident.json"]


def test_a_forced_legacy_env_cannot_be_compared_with_itself(
    fresh_sandbox: Path, tmp_path: Path
) -> None:
    factory = fresh_sandbox / "src/rl/envs/factory.py"
    factory.write_text(
        factory.read_text().replace("_FORCE_LEGACY_ENV = False", "_FORCE_LEGACY_ENV = True")
    )
    with pytest.raises(WorkspaceError, match="builds GeneralSimEnv for both env types"):
        parity(fresh_sandbox, tmp_path, episodes=1)


def test_a_broken_config_is_one_clear_error(fresh_sandbox: Path, tmp_path: Path) -> None:
    config = fresh_sandbox / "config.ini"
    config.write_text(config.read_text().replace("k_paths = 3", "k_paths = three"))
    with pytest.raises(WorkspaceError, match=r"building the legacy env \(env_type='legacy'\)"):
        parity(fresh_sandbox, tmp_path, episodes=1)


def test_no_env_section_is_refused(tmp_path: Path) -> None:
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "runbook.toml").write_text(
        '[target]\nname = "bare"\n\n[git]\nstable_ref = "v1"\n'
    )
    with pytest.raises(InvalidInputError, match=r"has no \[env\] section"):
        parity(tmp_path / "t", tmp_path / "archive", episodes=1)


@pytest.mark.parametrize(
    ("text", "seeds"),
    [("0-3", (0, 1, 2, 3)), ("5", (5,)), ("1,5,9", (1, 5, 9)), ("0-2, 10", (0, 1, 2, 10))],
)
def test_parse_seeds(text: str, seeds: tuple[int, ...]) -> None:
    assert parse_seeds(text) == seeds


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a", "'a' is not a seed or a range"),
        ("-1", "is not a seed"),
        ("3-1", "runs backwards"),
        ("1,1", "listed twice"),
        ("", "'' is not a seed"),
    ],
)
def test_parse_seeds_refuses(text: str, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        parse_seeds(text)


def test_choose_seeds() -> None:
    assert choose_seeds(None, None) == tuple(range(20))
    assert choose_seeds(3, None) == (0, 1, 2)
    assert choose_seeds(None, (4, 2)) == (4, 2)
    assert choose_seeds(2, (4, 2)) == (4, 2)
