"""Seed 003 end to end on the sandbox: sac-full with the service running, verified, then undone."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from runbook_lib.base.fsutil import workspace_hash
from runbook_lib.incident.ref import IncidentRef
from runbook_lib.incident.store import load_incident, open_incident
from runbook_lib.rollback.operations import apply_rollback, plan_rollback, undo_rollback
from runbook_lib.sandbox.defects import SYMPTOMS, inject_defect
from runbook_lib.sandbox.sac_artifacts import BACKUP_TIMESTAMP
from runbook_lib.target.checksums import parse_sha256sums
from runbook_lib.target.health import probe
from runbook_lib.verify.runner import run_verify
from tests.runutil import runbook_executable
from tests.svcutil import guarded_service

BACKUP = f"backups/{BACKUP_TIMESTAMP}"
VERIFIED = [
    "integrity",
    "config",
    "models",
    "target-tests",
    "trading",
    "service-health",
    "service-performance",
]


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    return tmp_path / "archive"


@pytest.fixture
def incident_id(archive: Path) -> str:
    return open_incident(archive, "SAC 1.1.0 loses money", "high", "deployment-failure").id


@pytest.mark.slow
def test_sac_full_rolls_back_verifies_and_undoes(
    fresh_sandbox: Path, archive: Path, incident_id: str
) -> None:
    stable_sha = parse_sha256sums((fresh_sandbox / BACKUP / "SHA256SUMS").read_text())[
        "models/sac_v1.zip"
    ]
    with guarded_service(fresh_sandbox) as guard:
        release_pid = guard.pids[0]
        before = workspace_hash(fresh_sandbox)

        plan = plan_rollback(IncidentRef(fresh_sandbox, archive, incident_id), "sac-full")
        assert [s.action for s in plan.steps] == [
            "service-stop",
            "git-restore",
            "backup-restore",
            "package",
            "service-start",
        ]
        assert workspace_hash(fresh_sandbox) == before
        applied = apply_rollback(IncidentRef(fresh_sandbox, archive, incident_id), plan.sha256)
        assert applied.ok, [c.summary for c in applied.checks]
        stable_pid = guard.current_pid()
        assert stable_pid is not None and stable_pid != release_pid

        report = run_verify(IncidentRef(fresh_sandbox, archive, incident_id), checks=VERIFIED)
        results = {r.name: r for r in report.results}
        assert report.expect == "stable"
        assert {n: r.status for n, r in results.items()} == dict.fromkeys(VERIFIED, "pass"), {
            n: r.summary for n, r in results.items() if r.status != "pass"
        }
        health = results["service-health"].evidence["body"]
        assert (health["version"], health["model_sha256"]) == ("1.0.0", stable_sha)
        tests = results["target-tests"].evidence["tests"]
        assert SYMPTOMS["code-nan-action"].test in {t["id"] for t in tests}
        assert "sac_features" not in str(tests), "the release's own tests went with its code"
        trading = results["trading"].evidence["metrics"]
        assert all(row["delta"] == 0.0 for row in trading.values()), "stable equals its baseline"

        undone = undo_rollback(IncidentRef(fresh_sandbox, archive, incident_id))
        assert undone.ok, [c.summary for c in undone.checks]
        assert workspace_hash(fresh_sandbox) == before
        assert load_incident(archive, incident_id).state == "assessed"
        status = guard.adapter.status()
        assert (
            status.running
            and status.url is not None
            and status.pid not in (release_pid, stable_pid)
        )
        guard.current_pid()
        code, body = probe(status.url + "/health")
        assert (code, body["version"], body["model"]) == (200, "1.1.0", "models/sac_v2.zip")


@pytest.mark.parametrize(
    ("defect", "named"),
    [
        ("backup-flipped-byte", "models/sac_v1.zip: FAILED (checksum mismatch)"),
        ("backup-truncated", "models/sac_v1.zip: FAILED (checksum mismatch)"),
        ("backup-missing-file", "configs/sac_config.json: FAILED open or read (missing)"),
    ],
)
def test_a_corrupted_backup_refuses_the_sac_full_plan(
    fresh_sandbox: Path, archive: Path, incident_id: str, defect: str, named: str
) -> None:
    inject_defect(fresh_sandbox, defect)
    before = workspace_hash(fresh_sandbox)
    proc = subprocess.run(
        [
            runbook_executable(),
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
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env=dict(os.environ),
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stdout == "" and proc.stderr.count("\n") == 1
    assert proc.stderr.startswith(
        f"runbook: error: backup {fresh_sandbox / BACKUP} failed "
        "verification, refusing to restore from it: "
    )
    assert named in proc.stderr and "nothing was changed" in proc.stderr
    assert workspace_hash(fresh_sandbox) == before
