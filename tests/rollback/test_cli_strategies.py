"""Every seed 003 strategy through the installed ``runbook``, one fresh process per step."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from runbook_lib.base.fsutil import workspace_hash
from runbook_lib.incident.store import open_incident

SAC_STRATEGIES = ["sac-code", "sac-deploy", "sac-data", "sac-full"]
SCENARIOS = ["implementation-failure", "testing-failure", "deployment-failure", "data-corruption"]


def runbook(*args: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("runbook") or str(Path(sys.executable).with_name("runbook"))
    return subprocess.run([exe, *args], capture_output=True, text=True, env=os.environ.copy(),
                          timeout=600, check=False)  # fmt: skip


def _plan(target: Path, archive: Path, incident: str, strategy: str) -> str:
    done = runbook("rollback", "plan", "--target", str(target), "--archive", str(archive),
                   "--incident", incident, "--strategy", strategy, "--json")  # fmt: skip
    assert done.returncode == 0, done.stderr
    return str(json.loads(done.stdout)["sha256"])


@pytest.mark.slow
@pytest.mark.parametrize("strategy", SAC_STRATEGIES)
def test_plan_apply_undo_in_fresh_processes(fresh_sandbox: Path, tmp_path: Path,
                                            strategy: str) -> None:
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


@pytest.mark.parametrize("scenario", SCENARIOS)
@pytest.mark.parametrize("deployed", [True, False])
def test_every_scenario_recommends_a_plannable_strategy(fresh_sandbox: Path, tmp_path: Path,
                                                        scenario: str, deployed: bool) -> None:
    args = ["decide", "--json", "--scenario", scenario, *([] if deployed else ["--not-deployed"])]
    decided = runbook(*args)
    assert decided.returncode == 0, decided.stderr
    strategy = json.loads(decided.stdout)["strategy"]
    archive = tmp_path / "archive"
    incident = open_incident(archive, "SAC incident", "high", "other").id
    _plan(fresh_sandbox, archive, incident, strategy)
