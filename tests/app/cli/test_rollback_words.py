"""What ``runbook rollback`` prints says what is so: one fresh process per step, as users run it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from runbook_lib.base import crashpoints
from runbook_lib.base.fsutil import workspace_hash
from runbook_lib.incident.store import open_incident
from tests.runutil import cli

HASHES = re.compile(r"sha256 ([0-9a-f]{12}|absent) -> ([0-9a-f]{12}|absent)$", re.M)


def _where(target: Path, archive: Path) -> tuple[str, ...]:
    return ("--target", str(target), "--archive", str(archive))


def _plan(target: Path, archive: Path, incident: str, strategy: str) -> tuple[str, str]:
    planned = cli(
        "rollback", "plan", "--incident", incident, "--strategy", strategy, *_where(target, archive)
    )
    assert planned.returncode == 0, planned.stderr
    sha = re.search(r"--plan ([0-9a-f]{12})", planned.stdout)
    assert sha, planned.stdout
    return planned.stdout, sha.group(1)


@pytest.mark.slow
def test_plan_hashes_dry_run_would_apply_and_undo_reverted(
    fresh_sandbox: Path, tmp_path: Path
) -> None:
    archive = tmp_path / "archive"
    incident = open_incident(archive, "unified env slow", "high", "perf-regression").id
    common = ("--incident", incident, *_where(fresh_sandbox, archive))
    text, sha = _plan(fresh_sandbox, archive, incident, "config")
    found = HASHES.findall(text)
    assert found and all(before != after for before, after in found), text
    before = workspace_hash(fresh_sandbox)

    dry = cli("rollback", "apply", *common, "--plan", sha, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "would apply: " in dry.stdout and "done:" not in dry.stdout, dry.stdout
    assert "nothing changed" in dry.stdout
    assert workspace_hash(fresh_sandbox) == before

    applied = cli("rollback", "apply", *common, "--plan", sha, "--yes")
    assert applied.returncode == 0, applied.stderr
    assert "  done: " in applied.stdout and "would" not in applied.stdout

    dry_undo = cli("rollback", "undo", *common, "--dry-run")
    assert "would revert: " in dry_undo.stdout and "done:" not in dry_undo.stdout

    undone = cli("rollback", "undo", *common, "--yes")
    assert undone.returncode == 0, undone.stderr
    assert "  reverted: " in undone.stdout and "done:" not in undone.stdout, undone.stdout
    assert workspace_hash(fresh_sandbox) == before


@pytest.mark.slow
def test_now_separates_what_it_did_from_what_the_user_must_do(
    fresh_sandbox: Path, tmp_path: Path
) -> None:
    now = cli("rollback", "now", "--yes", *_where(fresh_sandbox, tmp_path / "archive"))
    assert now.returncode == 0, now.stderr
    did, _, todo = now.stdout.partition("what you must still do")
    assert "what runbook did:" in did and "  done: " in did
    assert "export " not in did
    assert "export " in todo and "done:" not in todo, now.stdout


@pytest.mark.slow
def test_status_without_incident_scans_for_interrupted_work(
    fresh_sandbox: Path, tmp_path: Path
) -> None:
    archive = tmp_path / "archive"
    where = _where(fresh_sandbox, archive)
    quiet = cli("rollback", "status", *where)
    assert quiet.returncode == 0, quiet.stderr
    assert "interrupted: nothing" in quiet.stdout

    incident = open_incident(archive, "crash drill", "critical", "crash").id
    _, sha = _plan(fresh_sandbox, archive, incident, "now")
    (fresh_sandbox / ".runbook").mkdir(exist_ok=True)
    (fresh_sandbox / crashpoints.MARKER).touch()
    killed = cli(
        "rollback",
        "apply",
        "--incident",
        incident,
        "--plan",
        sha,
        "--yes",
        *where,
        env={"RUNBOOK_CRASH_AT": "4"},
    )
    assert killed.returncode == -9, killed.stderr

    scan = cli("rollback", "status", *where)
    assert scan.returncode == 0, scan.stderr
    assert f"interrupted: {incident} (crash drill): apply of plan {sha}" in scan.stdout
    assert f"resume with: runbook rollback resume --incident {incident}" in scan.stdout
    assert "{" not in scan.stdout and "None" not in scan.stdout, scan.stdout

    one = cli("rollback", "status", "--incident", incident, *where)
    assert f"interrupted: apply of plan {sha}" in one.stdout
    assert "{" not in one.stdout and "None" not in one.stdout, one.stdout
