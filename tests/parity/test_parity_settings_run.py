"""``[parity]`` fresh_env, atol/rtol and the entry-point policy, on a small throwaway target."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from runbook_lib.base.fsutil import workspace_hash
from runbook_lib.incident.store import open_incident
from runbook_lib.parity.run import ParityOutcome, run_incident_parity
from runbook_lib.target.manifest import load_manifest
from runbook_lib.target.worker.client import TargetCallError
from tests.runutil import cli, open_incident_cli
from tests.target.toytarget import TOY_PACKAGE, write_toy_target

MANIFEST = f"""
[target]
name = "toy"

[git]
stable_ref = "v1"

[env]
factory = "{TOY_PACKAGE}:make"
"""


def toy(tmp_path: Path, parity: str = "", /, **kwargs: Any) -> Path:
    root = write_toy_target(tmp_path / "toy")
    kwargs.setdefault("own_class", True)
    args = "".join(
        f"{key} = {str(value).lower() if isinstance(value, bool) else repr(value)}\n"
        for key, value in kwargs.items()
    )
    text = MANIFEST + "\n[env.factory_kwargs]\n" + args + parity
    (root / "runbook.toml").write_text(text.replace("'", '"'), encoding="utf-8")
    return root


def parity(root: Path, archive: Path, episodes: int = 3) -> ParityOutcome:
    incident = open_incident(archive, "toy parity", "high", "result-difference")
    return run_incident_parity(load_manifest(root), archive, incident.id, episodes=episodes)


def test_without_fresh_env_a_reset_capped_env_fails_on_its_next_episode(tmp_path: Path) -> None:
    root = toy(tmp_path, max_resets=2)
    with pytest.raises(TargetCallError) as caught:
        parity(root, tmp_path / "archive", episodes=4)
    message = str(caught.value)
    assert "the legacy env ('legacy') and candidate env ('unified'), episode 2 (seed 2)" in message
    assert "at the reset" in message and "refuses reset 3" in message
    assert "fresh_env = true" in message


def test_fresh_env_builds_new_envs_for_every_episode(tmp_path: Path) -> None:
    root = toy(tmp_path, "\n[parity]\nfresh_env = true\n", max_resets=1)
    outcome = parity(root, tmp_path / "archive", episodes=4)
    assert outcome.report.verdict == "PASS"
    assert [r.error for r in outcome.report.records] == [None] * 4
    assert sum(r.agreeing_steps for r in outcome.report.records) == outcome.report.steps == 20


def test_a_tiny_leaf_difference_fails_exactly_and_names_the_leaf(tmp_path: Path) -> None:
    root = toy(tmp_path, unified_pair_shift=1e-9)
    outcome = parity(root, tmp_path / "archive")
    assert outcome.report.verdict == "FAIL"
    first = outcome.report.records[0].first_divergence
    assert first is not None and first["field"] == "obs['pair'][1]", first
    assert first["step"] == 1


@pytest.mark.parametrize("tolerance", ["atol = 1e-6", "rtol = 1e-6"])
def test_the_same_difference_passes_within_a_tolerance(tmp_path: Path, tolerance: str) -> None:
    root = toy(tmp_path, f"\n[parity]\n{tolerance}\n", unified_pair_shift=1e-9)
    outcome = parity(root, tmp_path / "archive")
    assert outcome.report.verdict == "PASS"
    assert all(r.first_divergence is None for r in outcome.report.records)


def test_an_entry_point_policy_drives_both_and_is_in_the_evidence(tmp_path: Path) -> None:
    root = toy(tmp_path, f'\n[parity]\npolicy = "{TOY_PACKAGE}:first_action"\n')
    before = workspace_hash(root)
    outcome = parity(root, tmp_path / "archive", episodes=2)
    assert outcome.report.verdict == "PASS"
    assert outcome.envs["policy"] == {
        "kind": "entry_point",
        "entry_point": f"{TOY_PACKAGE}:first_action",
    }
    saved = (Path(outcome.files["parity.json"][0])).read_text(encoding="utf-8")
    assert f'"entry_point": "{TOY_PACKAGE}:first_action"' in saved
    # The policy's actions, not random ones: the second action component is always 1.
    assert all(r.candidate_reward >= r.length for r in outcome.report.records)
    assert workspace_hash(root) == before


@pytest.mark.parametrize(
    ("kwarg", "code"), [("die_at", "exit code 3"), ("kill_at", "exit code -9")]
)
def test_a_worker_killed_mid_episode_is_exit_1_naming_env_episode_and_step(
    tmp_path: Path, kwarg: str, code: str
) -> None:
    root = toy(tmp_path, **{kwarg: 3})
    archive = str(tmp_path / "archive")
    before = workspace_hash(root)
    incident = open_incident_cli(archive, root)
    done = cli(
        "parity",
        "--incident",
        incident,
        "--episodes",
        "2",
        "--archive",
        archive,
        cwd=root,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    lines = [line for line in done.stderr.splitlines() if line.startswith("runbook: error:")]
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    line = lines[0]
    assert "the legacy env ('legacy') and candidate env ('unified'), episode 0 (seed 0)" in line
    assert "at step 3" in line and code in line
    assert f"toyrl: {'dying' if kwarg == 'die_at' else 'killed'} at step 3" in line
    assert workspace_hash(root) == before
