"""Rollback operations on a materialized sandbox, through the library and the CLI."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from runbook_lib.base import crashpoints
from runbook_lib.base.fsutil import workspace_hash
from runbook_lib.evidence.amend import amending
from runbook_lib.incident.ref import IncidentRef
from runbook_lib.incident.store import incident_dir, load_incident, open_incident
from runbook_lib.rollback.engine import make_plan
from runbook_lib.rollback.operations import (
    apply_rollback,
    plan_rollback,
    rollback_status,
    undo_rollback,
)
from runbook_lib.rollback.strategies import build_actions
from runbook_lib.target.manifest import load_manifest
from tests.runutil import cli, runbook_executable


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    return tmp_path / "archive"


@pytest.fixture
def incident_id(archive: Path) -> str:
    return open_incident(archive, "unified env regression", "high", "perf-regression").id


def apply_argv(
    target: Path, archive: Path, incident: str, plan: str, *, yes: bool = True
) -> list[str]:
    """``runbook rollback apply`` of ``plan`` with the options every step here passes."""
    confirm = ["--yes"] if yes else []
    where = ["--target", str(target), "--archive", str(archive)]
    return ["rollback", "apply", "--incident", incident, "--plan", plan, *confirm, *where]


@pytest.mark.parametrize("strategy", ["env-var", "config", "code", "force", "now"])
def test_strategy_cycle_restores_the_workspace(
    fresh_sandbox: Path, archive: Path, incident_id: str, strategy: str
) -> None:
    before = workspace_hash(fresh_sandbox)
    plan = plan_rollback(IncidentRef(fresh_sandbox, archive, incident_id), strategy)
    assert workspace_hash(fresh_sandbox) == before
    report = apply_rollback(IncidentRef(fresh_sandbox, archive, incident_id), plan.sha256)
    assert report.ok, [c.summary for c in report.checks]
    assert workspace_hash(fresh_sandbox) != before
    assert load_incident(archive, incident_id).state == "rolled-back"
    undo_rollback(IncidentRef(fresh_sandbox, archive, incident_id))
    assert workspace_hash(fresh_sandbox) == before
    assert load_incident(archive, incident_id).state == "assessed"
    status = rollback_status(IncidentRef(fresh_sandbox, archive, incident_id))
    assert status["last_completed"]["operation"] == "undo" and status["interrupted"] is None


def test_git_restore_and_package_cycle(
    fresh_sandbox: Path, archive: Path, incident_id: str
) -> None:
    before = workspace_hash(fresh_sandbox)
    plan = plan_rollback(IncidentRef(fresh_sandbox, archive, incident_id), "sac-full")
    removed = {c.path for s in plan.steps for c in s.changes if c.after is None}
    assert "src/rl/sac/sac_features.py" in removed
    report = apply_rollback(IncidentRef(fresh_sandbox, archive, incident_id), plan.sha256)
    assert report.ok, [c.summary for c in report.checks]
    assert not (fresh_sandbox / "src/rl/sac/sac_features.py").exists()
    undo_rollback(IncidentRef(fresh_sandbox, archive, incident_id))
    assert workspace_hash(fresh_sandbox) == before


@pytest.mark.parametrize(
    "bad_id", ["../x", "INC-../..", "/etc/passwd", "INC-20261123-0612-3FA2", "x"]
)
def test_invalid_incident_ids_exit_2_and_change_nothing(
    fresh_sandbox: Path, archive: Path, bad_id: str
) -> None:
    before = workspace_hash(fresh_sandbox)
    proc = cli(
        "rollback",
        "plan",
        "--incident",
        bad_id,
        "--strategy",
        "config",
        "--target",
        str(fresh_sandbox),
        "--archive",
        str(archive),
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("runbook: error: ") and "Traceback" not in proc.stderr
    assert workspace_hash(fresh_sandbox) == before
    assert not (archive / "incidents" / "x").exists()


def test_missing_stable_ref_exits_2(fresh_sandbox: Path, archive: Path, incident_id: str) -> None:
    manifest = fresh_sandbox / "runbook.toml"
    manifest.write_text(manifest.read_text().replace('stable_ref = "v1.0"', 'stable_ref = "v0.9"'))
    before = workspace_hash(fresh_sandbox)
    proc = cli(
        "rollback",
        "plan",
        "--incident",
        incident_id,
        "--strategy",
        "sac-full",
        "--target",
        str(fresh_sandbox),
        "--archive",
        str(archive),
    )
    assert proc.returncode == 2
    assert "stable ref 'v0.9' does not exist" in proc.stderr
    assert workspace_hash(fresh_sandbox) == before


def test_stale_plan_exits_4(fresh_sandbox: Path, archive: Path, incident_id: str) -> None:
    plan = plan_rollback(IncidentRef(fresh_sandbox, archive, incident_id), "config")
    config = fresh_sandbox / "config.ini"
    config.write_text(config.read_text() + "\n# an operator's edit\n")
    before = workspace_hash(fresh_sandbox)
    proc = cli(*apply_argv(fresh_sandbox, archive, incident_id, plan.sha256))
    assert proc.returncode == 4, proc.stderr
    assert "config.ini (changed since the plan)" in proc.stderr
    assert workspace_hash(fresh_sandbox) == before


def test_apply_without_yes_off_a_terminal_is_refused(
    fresh_sandbox: Path, archive: Path, incident_id: str
) -> None:
    plan = plan_rollback(IncidentRef(fresh_sandbox, archive, incident_id), "config")
    before = workspace_hash(fresh_sandbox)
    proc = cli(*apply_argv(fresh_sandbox, archive, incident_id, plan.sha256[:12], yes=False))
    assert proc.returncode == 2 and "pass --yes" in proc.stderr
    assert workspace_hash(fresh_sandbox) == before


def test_illegal_transition_exits_2(archive: Path, incident_id: str) -> None:
    proc = cli("incident", "advance", incident_id, "closed", "--archive", str(archive))
    assert proc.returncode == 2
    assert "cannot go from opened to closed" in proc.stderr


def test_two_concurrent_applies_one_proceeds_the_other_exits_3(
    fresh_sandbox: Path, archive: Path, incident_id: str, tmp_path: Path
) -> None:
    plan = plan_rollback(IncidentRef(fresh_sandbox, archive, incident_id), "now")
    enable_crashpoints(fresh_sandbox)
    release = tmp_path / "release"
    args = apply_argv(fresh_sandbox, archive, incident_id, plan.sha256)
    first = subprocess.Popen(
        [runbook_executable(), *args],
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "RUNBOOK_PAUSE_AT": "1", "RUNBOOK_PAUSE_FILE": str(release)},
    )
    try:
        holder = fresh_sandbox / ".runbook" / "lock.json"
        for _ in range(1000):
            if holder.is_file():
                break
            subprocess.run(["sleep", "0.01"], check=True)
        second = cli(*args)
        assert second.returncode == 3, second.stderr
        assert f"pid {first.pid}" in second.stderr and incident_id in second.stderr
    finally:
        release.touch()
        _, err = first.communicate(timeout=60)
    assert first.returncode == 0, err
    assert "USE_UNIFIED_ENV=0" in (fresh_sandbox / ".runbook" / "rollback.env").read_text()


def enable_crashpoints(workspace: Path) -> None:
    """The second switch the crash hooks need besides the variable: a marker in the target."""
    (workspace / ".runbook").mkdir(exist_ok=True)
    (workspace / crashpoints.MARKER).touch()


def crash_points(
    workspace: Path, archive: Path, incident_id: str, plan: str, log: Path
) -> list[str]:
    enable_crashpoints(workspace)
    proc = cli(
        *apply_argv(workspace, archive, incident_id, plan), env={"RUNBOOK_CRASH_LOG": str(log)}
    )
    assert proc.returncode == 0, proc.stderr
    return [line.split("\t")[1] for line in log.read_text().splitlines()]


def two_step_plan(root: Path, archive: Path, incident: str) -> str:
    """Seed 000's env-var and config switches in one plan: crash points between two steps."""
    manifest = load_manifest(root)
    actions = build_actions("env-var", manifest, incident) + build_actions(
        "config", manifest, incident
    )
    directory = incident_dir(archive, incident)
    with amending(archive, directory):
        return make_plan(manifest.root, incident, "env-var", actions, directory).sha256


@pytest.mark.slow
def test_sigkill_at_every_side_effect_point_then_resume(sandbox: Path, tmp_path: Path) -> None:
    import shutil

    run, pristine = tmp_path / "run", tmp_path / "pristine"
    shutil.copytree(sandbox, run / "ws", symlinks=True)
    inc = open_incident(run / "archive", "crash drill", "critical", "crash").id
    plan = two_step_plan(run / "ws", run / "archive", inc)
    enable_crashpoints(run / "ws")
    shutil.copytree(run, pristine, symlinks=True)

    def restored(source: Path) -> tuple[Path, Path, str, str]:
        # Same path, incident, plan and bytes each time: every run must end alike.
        shutil.rmtree(run)
        shutil.copytree(source, run, symlinks=True)
        return run / "ws", run / "archive", inc, plan

    def target(workspace: Path, store: Path) -> tuple[str, ...]:
        return ("--target", str(workspace), "--archive", str(store))

    reference, store, inc, plan = restored(pristine)
    before = workspace_hash(reference)
    points = crash_points(reference, store, inc, plan, tmp_path / "points.log")
    applied = workspace_hash(reference)
    assert len(points) >= 8 and any(p.startswith("write ") for p in points)
    killed = tmp_path / "killed"
    for number, label in enumerate(points, 1):
        workspace, store, inc, plan = restored(pristine)
        proc = cli(*apply_argv(workspace, store, inc, plan), env={"RUNBOOK_CRASH_AT": str(number)})
        assert proc.returncode == -9, (label, proc.stderr)
        status = json.loads(
            cli("rollback", "status", "--incident", inc, "--json", *target(workspace, store)).stdout
        )
        if status["interrupted"] is None:  # killed before "begin" reached the journal
            assert workspace_hash(workspace) == before, label
            continue
        # The same kill leaves the same state: both resumes start from a copy of this one.
        shutil.rmtree(killed, ignore_errors=True)
        shutil.copytree(run, killed, symlinks=True)
        for revert in (False, True):
            workspace, store, inc, plan = restored(killed)
            resumed = cli(
                "rollback",
                "resume",
                "--incident",
                inc,
                "--yes",
                *(["--revert"] if revert else []),
                *target(workspace, store),
            )
            assert resumed.returncode == 0, (label, resumed.stderr)
            assert workspace_hash(workspace) == (before if revert else applied), (label, revert)


def test_mistyped_manifest_key_exits_2_naming_key_file_and_line(
    fresh_sandbox: Path, archive: Path, incident_id: str
) -> None:
    manifest = fresh_sandbox / "runbook.toml"
    manifest.write_text(manifest.read_text().replace("stable_ref = ", "stabel_ref = "))
    before = workspace_hash(fresh_sandbox)
    proc = cli(
        "rollback",
        "plan",
        "--incident",
        incident_id,
        "--strategy",
        "config",
        "--target",
        str(fresh_sandbox),
        "--archive",
        str(archive),
    )
    assert proc.returncode == 2
    assert re.search(r"runbook\.toml:\d+: unknown key 'stabel_ref' in \[git\]", proc.stderr)
    assert "accepted keys in [git]: stable_ref" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
    assert workspace_hash(fresh_sandbox) == before
    assert not (archive / "incidents" / incident_id / "plans").exists()
