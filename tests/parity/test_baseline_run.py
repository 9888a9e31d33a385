"""Parity against a recorded legacy baseline on a real sandbox: recording, verdicts, refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from runbook_lib.base.errors import InvalidInputError
from runbook_lib.parity.baseline import load_baseline
from runbook_lib.parity.run import record
from runbook_lib.sandbox.faults import set_faults
from runbook_lib.target.manifest import load_manifest
from tests.parity.parityutil import parity, timeless

pytestmark = pytest.mark.filterwarnings("ignore:GeneralSimEnv is deprecated:DeprecationWarning")


@pytest.fixture(scope="module")
def baseline(sandbox: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("baseline") / "legacy.json"
    saved = record(load_manifest(sandbox), out, seeds=(0, 1, 2, 3))
    assert saved["env_class"] == "GeneralSimEnv" and saved["env_type"] == "legacy"
    return out


def test_a_recorded_baseline_is_small_and_complete(
    baseline: Path, sandbox: Path, tmp_path: Path
) -> None:
    data = load_baseline(baseline)
    assert data.seeds == (0, 1, 2, 3)
    episode = data.episodes[0]
    assert episode["length"] == len(episode["actions"]) == len(episode["obs_sha256"]) == 1000
    assert set(episode["terminated"]) == {0, 1} and episode["terminated"][-1] == 1
    assert set(episode["truncated"]) == {0}
    assert all(len(digest) == 16 for digest in episode["obs_sha256"])
    assert set(episode["metrics"]) == {"total_reward", "blocking_probability"}
    assert baseline.stat().st_size < 40_000 * 4
    # recording with two workers writes the same episodes
    again = tmp_path / "again.json"
    record(load_manifest(sandbox), again, seeds=(0, 1, 2, 3), workers=2)
    assert load_baseline(again).episodes == data.episodes


def test_the_healthy_candidate_matches_the_baseline(
    sandbox: Path, baseline: Path, tmp_path: Path
) -> None:
    outcome = parity(sandbox, tmp_path, baseline=baseline)
    report = outcome.report
    assert report.verdict == "PASS" and report.step_agreement == 1.0
    assert report.episodes == 4 and report.first_divergence is None
    data = outcome.to_dict()
    assert data["reference"] == "baseline" and data["throughput_regression_pct"] is None
    assert outcome.decision.assessment.regression_pct is None
    assert "parity_throughput" not in data["files"]  # a baseline holds no timings


def test_a_biased_candidate_fails_against_the_baseline(
    fresh_sandbox: Path, baseline: Path, tmp_path: Path
) -> None:
    set_faults(fresh_sandbox, reward_bias=-0.05)
    one = parity(fresh_sandbox, tmp_path, baseline=baseline, episodes=3)
    assert one.report.verdict == "FAIL" and one.report.episodes == 3
    assert one.report.first_divergence == {
        "episode": 0,
        "step": 1,
        "field": "reward",
        "legacy": 1.0,
        "candidate": 0.95,
    }
    assert one.report.metrics["total_reward"].verdict == "FAIL"
    two = parity(fresh_sandbox, tmp_path, baseline=baseline, episodes=3, workers=2)
    assert timeless(one.report.records) == timeless(two.report.records)


def test_noisy_observations_diverge_from_the_baseline_at_reset(
    fresh_sandbox: Path, baseline: Path, tmp_path: Path
) -> None:
    set_faults(fresh_sandbox, obs_noise=0.01)
    first = parity(fresh_sandbox, tmp_path, baseline=baseline, episodes=1).report.first_divergence
    assert first is not None
    assert (first["episode"], first["step"], first["field"]) == (0, 0, "obs")
    recorded = load_baseline(baseline).episodes[0]["reset_obs_sha256"]
    assert first["legacy"] == recorded and first["candidate"] != recorded


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json", "cannot read it as JSON"),
        ('{"kind": "other"}', "'kind' is not 'runbook-parity-baseline'"),
        ('{"kind": "runbook-parity-baseline", "schema": 1, "episodes": []}', "holds no episodes"),
        (
            '{"kind": "runbook-parity-baseline", "schema": 1, "episodes": [{"seed": 0, '
            '"reset_obs_sha256": "x", "metrics": {}, "actions": [0, 1], "rewards": [1.0], '
            '"obs_sha256": ["a"], "terminated": [1], "truncated": [0]}]}',
            "unequal length",
        ),
        (
            '{"kind": "runbook-parity-baseline", "schema": 1, "episodes": [{"seed": 0, '
            '"reset_obs_sha256": "x", "metrics": {}, "actions": ["left"], "rewards": [1.0], '
            '"obs_sha256": ["a"], "terminated": [1], "truncated": [0]}]}',
            "malformed value in 'actions'",
        ),
    ],
)
def test_a_malformed_baseline_is_refused(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "b.json"
    path.write_text(content)
    with pytest.raises(InvalidInputError, match=message):
        load_baseline(path)


def test_baseline_fixes_seeds_and_episode_count(
    sandbox: Path, baseline: Path, tmp_path: Path
) -> None:
    with pytest.raises(InvalidInputError, match="a baseline fixes the seeds and the actions"):
        parity(sandbox, tmp_path, baseline=baseline, seeds=(0, 1))
    with pytest.raises(InvalidInputError, match=r"--episodes 9: .* holds 4"):
        parity(sandbox, tmp_path, baseline=baseline, episodes=9)


def test_record_refuses_to_overwrite(sandbox: Path, baseline: Path) -> None:
    with pytest.raises(InvalidInputError, match="exists"):
        record(load_manifest(sandbox), baseline, seeds=(0,))
