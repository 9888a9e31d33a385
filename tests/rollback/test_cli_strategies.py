"""Every seed 003 strategy through the installed ``runbook``, one fresh process per step."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from runbook_lib.base.fsutil import workspace_hash
from runbook_lib.incident.store import open_incident
from runbook_lib.rollback.strategies import SEED_STEPS
from tests.runutil import runbook_executable

SAC_STRATEGIES = ["sac-code", "sac-deploy", "sac-data", "sac-full"]
SCENARIOS = ["implementation-failure", "testing-failure", "deployment-failure", "data-corruption"]


def runbook(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [runbook_executable(), *args],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=600,
        check=False,
    )


def _plan(target: Path, archive: Path, incident: str, strategy: str) -> str:
    done = runbook(
        "rollback",
        "plan",
        "--target",
        str(target),
        "--archive",
        str(archive),
        "--incident",
        incident,
        "--strategy",
        strategy,
        "--json",
    )
    assert done.returncode == 0, done.stderr
    return str(json.loads(done.stdout)["sha256"])


@pytest.mark.slow
@pytest.mark.parametrize("strategy", SAC_STRATEGIES)
def test_plan_apply_undo_in_fresh_processes(
    fresh_sandbox: Path, tmp_path: Path, strategy: str
) -> None:
    archive = tmp_path / "archive"
    incident = open_incident(archive, "SAC 1.1.0 loses money", "high", "deployment-failure").id
    common = ("--target", str(fresh_sandbox), "--archive", str(archive), "--incident", incident)
    before = workspace_hash(fresh_sandbox)
    sha = _plan(fresh_sandbox, archive, incident, strategy)
    assert workspace_hash(fresh_sandbox) == before
    applied = runbook("rollback", "apply", *common, "--plan", sha, "--yes")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert workspace_hash(fresh_sandbox) != before
    undone = runbook("rollback", "undo", *common, "--yes")
    assert undone.returncode == 0, undone.stdout + undone.stderr
    assert workspace_hash(fresh_sandbox) == before


@pytest.fixture(scope="module")
def plannable(sandbox: Path, tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], str]:
    """``plannable(strategy)``: plan it on a fresh copy of the sandbox, once per module.

    The eight scenarios recommend four strategies; planning one on a fresh copy
    gives the same plan whichever scenario named it, so each is planned once
    (through the CLI, the first time a test asks) and the plan's sha256 kept.
    """
    planned: dict[str, str] = {}

    def plan(strategy: str) -> str:
        if strategy not in planned:
            home = tmp_path_factory.mktemp(f"plannable-{strategy}")
            shutil.copytree(sandbox, home / "ws", symlinks=True)
            archive = home / "archive"
            incident = open_incident(archive, "SAC incident", "high", "other").id
            planned[strategy] = _plan(home / "ws", archive, incident, strategy)
        return planned[strategy]

    return plan


@pytest.mark.parametrize("scenario", SCENARIOS)
@pytest.mark.parametrize("deployed", [True, False])
def test_every_scenario_recommends_a_plannable_strategy(
    plannable: Callable[[str], str], scenario: str, deployed: bool
) -> None:
    args = ["decide", "--json", "--scenario", scenario, *([] if deployed else ["--not-deployed"])]
    decided = runbook(*args)
    assert decided.returncode == 0, decided.stderr
    strategy = json.loads(decided.stdout)["strategy"]
    assert len(plannable(strategy)) == 64  # the plan's sha256; _plan asserts it exited 0


# One row per branch of seed 000's tree (tests/decide checks that these reach every outcome).
TREE_BRANCHES = [
    [],
    ["--crash"],
    ["--regression-pct", "20"],
    ["--regression-pct", "20.5"],
    ["--difference", "5"],
    ["--difference", "5.5"],
    ["--difference", "5.5", "--bug"],
    ["--difference", "5.5", "--intentional"],
]


@pytest.mark.parametrize("facts", TREE_BRANCHES, ids=lambda facts: " ".join(facts) or "no-facts")
def test_every_branch_of_the_tree_recommends_a_plannable_strategy(
    fresh_sandbox: Path, tmp_path: Path, facts: list[str]
) -> None:
    archive = tmp_path / "archive"
    incident = open_incident(archive, "env incident", "high", "other").id
    decided = runbook("decide", "--json", "--incident", incident, "--archive", str(archive), *facts)
    assert decided.returncode == 0, decided.stderr
    strategy = json.loads(decided.stdout)["strategy"]
    planned = runbook(
        "rollback",
        "plan",
        "--target",
        str(fresh_sandbox),
        "--archive",
        str(archive),
        "--incident",
        incident,
        "--strategy",
        strategy,
        "--json",
    )
    assert planned.returncode == 0, planned.stderr
    plan = json.loads(planned.stdout)
    steps = plan["steps"]
    if strategy == "investigate":
        assert steps == []  # seed 000 §2: investigate before any rollback
    elif strategy == "document-difference":
        assert [s["action"] for s in steps] == ["differences-entry"]
    else:
        assert steps
        return
    before = workspace_hash(fresh_sandbox)
    applied = runbook(
        "rollback",
        "apply",
        "--target",
        str(fresh_sandbox),
        "--archive",
        str(archive),
        "--incident",
        incident,
        "--plan",
        plan["sha256"],
        "--yes",
    )
    assert applied.returncode == 0, applied.stderr
    state = runbook("incident", "show", incident, "--archive", str(archive), "--json")
    assert json.loads(state.stdout)["state"] != "rolled-back"  # nothing was rolled back
    if strategy == "investigate":
        assert workspace_hash(fresh_sandbox) == before
    else:
        assert incident in (fresh_sandbox / "docs" / "rl_differences.md").read_text(
            encoding="utf-8"
        )


def _plan_text(target: Path, archive: Path, strategy: str) -> str:
    incident = open_incident(archive, "SAC incident", "high", "other").id
    done = runbook(
        "rollback",
        "plan",
        "--target",
        str(target),
        "--archive",
        str(archive),
        "--incident",
        incident,
        "--strategy",
        strategy,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _restored(plan: dict[str, Any], action: str) -> set[str]:
    steps = [s for s in plan["steps"] if s["action"] == action]
    return {c["path"] for step in steps for c in step["changes"]}


def test_sac_code_restores_code_config_and_docs_but_not_the_models(
    fresh_sandbox: Path, tmp_path: Path
) -> None:
    archive = tmp_path / "archive"
    (fresh_sandbox / "models" / "sac_v1.zip").write_bytes(b"corrupted")  # data corruption
    plans = {}
    for strategy in ("sac-code", "sac-data"):
        incident = open_incident(archive, "SAC incident", "high", "other").id
        sha = _plan(fresh_sandbox, archive, incident, strategy)
        plans[strategy] = json.loads(
            next((archive).rglob(f"plans/{sha}.json")).read_text(encoding="utf-8")
        )
    code_restored = _restored(plans["sac-code"], "backup-restore")
    data_restored = _restored(plans["sac-data"], "backup-restore")
    assert "configs/sac_config.json" in code_restored
    assert not any(p.startswith("models/") for p in code_restored), code_restored
    assert "models/sac_v1.zip" in data_restored, data_restored  # the models are sac-data's
    git_paths = _restored(plans["sac-code"], "git-restore")
    assert any(p.startswith("src/rl/sac/") for p in git_paths)
    assert any(p.startswith("docs/agents/") for p in git_paths)


@pytest.mark.parametrize("strategy", SAC_STRATEGIES)
def test_each_seed_003_strategy_prints_its_steps_in_the_seeds_words(
    fresh_sandbox: Path, tmp_path: Path, strategy: str
) -> None:
    text = _plan_text(fresh_sandbox, tmp_path / "archive", strategy)
    numbered = [line for line in text.splitlines() if line[:1].isdigit()]
    assert numbered, text
    words = set(SEED_STEPS[strategy].values())
    for line in numbered:
        assert any(f"] {label}: " in line for label in words), line
    for phrase in {
        "sac-code": ("Code Rollback", "Configuration Rollback", "Documentation Rollback"),
        "sac-deploy": ("Development Environment", "Production Environment"),
        "sac-data": ("Data Recovery", "Service Restoration"),
        "sac-full": (
            "Code Rollback",
            "Configuration Rollback",
            "Data Recovery",
            "Development Environment",
            "Production Environment",
        ),
    }[strategy]:
        assert phrase in text, (phrase, text)
