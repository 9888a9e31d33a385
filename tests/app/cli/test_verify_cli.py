"""``runbook verify`` in a subprocess: exit codes, --json, --checks, --start-service."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from runbook_lib.incident.store import incident_dir, open_incident
from runbook_lib.sandbox.defects import inject_defect
from tests.runutil import runbook_executable
from tests.svcutil import guarded_service


def run_verify_cli(archive: Path, target: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RUNBOOK_ARCHIVE": str(archive)}
    return subprocess.run(
        [runbook_executable(), "verify", "--target", str(target), *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=300,
    )


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    return tmp_path / "archive"


@pytest.fixture
def incident_id(archive: Path) -> str:
    return open_incident(archive, "SAC release misbehaves", "high", "deployment-failure").id


def saved_runs(archive: Path, incident_id: str) -> list[Path]:
    return sorted((incident_dir(archive, incident_id) / "checks").glob("verify-*.json"))


def test_json_output_of_a_passing_run(fresh_sandbox: Path, archive: Path, incident_id: str) -> None:
    proc = run_verify_cli(
        archive, fresh_sandbox, "--incident", incident_id, "--checks", "integrity, config", "--json"
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""  # no progress under --json: stdout is the one object
    data = json.loads(proc.stdout)
    assert data["ok"] is True and data["expect"] == "release"
    assert [c["name"] for c in data["checks"]] == ["integrity", "config"]
    assert [Path(data["path"])] == saved_runs(archive, incident_id)


def test_an_old_check_name_works_with_a_note_and_a_new_one_without(
    fresh_sandbox: Path, archive: Path, incident_id: str
) -> None:
    old = run_verify_cli(
        archive, fresh_sandbox, "--incident", incident_id, "--checks", "factory_resolution"
    )
    assert old.returncode == 0, old.stderr
    note, *progress = old.stderr.splitlines()
    assert note == (
        "runbook: note: check name 'factory_resolution' is deprecated; use 'factory-resolution'"
    )
    assert progress[0].startswith("verify 1/1: factory-resolution: skip (")
    assert progress[1].startswith("verify: running the checks: done (") and len(progress) == 2
    assert "  skip  factory-resolution (non-blocking)" in old.stdout
    new = run_verify_cli(
        archive, fresh_sandbox, "--incident", incident_id, "--checks", "factory-resolution"
    )
    assert new.returncode == 0, new.stderr
    assert [line.split(" (")[0] for line in new.stderr.splitlines()] == [
        "verify 1/1: factory-resolution: skip",
        "verify: running the checks: done",
    ]  # no note for the new name
    assert "  skip  factory-resolution (non-blocking)" in new.stdout
    saved = [json.loads(p.read_text())["checks"] for p in saved_runs(archive, incident_id)]
    assert [[c["name"] for c in checks] for checks in saved] == [["factory-resolution"]] * 2


def test_an_unknown_check_name_lists_the_valid_ones(
    fresh_sandbox: Path, archive: Path, incident_id: str
) -> None:
    from runbook_lib.base.checknames import SELECTABLE

    proc = run_verify_cli(archive, fresh_sandbox, "--incident", incident_id, "--checks", "bogus")
    assert (proc.returncode, proc.stdout, proc.stderr.count("\n")) == (2, "", 1)
    assert "unknown check(s): bogus" in proc.stderr
    assert "choose from: " + ", ".join(SELECTABLE) in proc.stderr
    assert saved_runs(archive, incident_id) == []


def test_text_output_and_exit_1_on_a_blocking_failure(
    fresh_sandbox: Path, archive: Path, incident_id: str
) -> None:
    inject_defect(fresh_sandbox, "config-corrupt")
    proc = run_verify_cli(archive, fresh_sandbox, "--incident", incident_id, "--checks", "config")
    assert proc.returncode == 1
    lines = proc.stdout.splitlines()
    assert (
        lines[0] == f"verify {incident_id} on {fresh_sandbox} (expecting the release version 1.1.0)"
    )
    assert lines[1].startswith("  fail  config [") and "invalid JSON at line" in lines[1]
    assert lines[2] == "result: FAILED: config"
    # Off a terminal: one line per check as it ends, the step's outcome, then the error.
    check, outcome, error = proc.stderr.splitlines()
    assert check.startswith("verify 1/1: config: fail (") and check.endswith(" s)")
    assert outcome.startswith("verify: running the checks: done (")
    assert error.startswith("runbook: error: blocking check(s) failed: config (see ")
    assert len(saved_runs(archive, incident_id)) == 1


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--checks", "config,modles"], "unknown check(s): modles"),
        (["--checks", "config", "--expect", "latest"], "Invalid value for '--expect'"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(
    fresh_sandbox: Path, archive: Path, incident_id: str, args: list[str], expected: str
) -> None:
    proc = run_verify_cli(archive, fresh_sandbox, "--incident", incident_id, *args)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.startswith("runbook: error: ") and proc.stderr.count("\n") == 1
    assert expected in proc.stderr
    assert saved_runs(archive, incident_id) == []


def test_unknown_incident_exits_2(fresh_sandbox: Path, archive: Path) -> None:
    proc = run_verify_cli(archive, fresh_sandbox, "--incident", "INC-20260101-0000-abcd")
    assert proc.returncode == 2 and "no incident INC-20260101-0000-abcd" in proc.stderr


@pytest.mark.slow
def test_start_service_starts_it_for_the_service_checks(
    fresh_sandbox: Path, archive: Path, incident_id: str
) -> None:
    names = "--checks", "service-health,service-performance"
    proc = run_verify_cli(archive, fresh_sandbox, "--incident", incident_id, *names, "--json")
    assert proc.returncode == 0, proc.stderr
    assert [c["status"] for c in json.loads(proc.stdout)["checks"]] == ["skip", "skip"]
    with guarded_service(fresh_sandbox, start=False) as guard:
        proc = run_verify_cli(
            archive, fresh_sandbox, "--incident", incident_id, *names, "--start-service", "--json"
        )
        pid = guard.current_pid()
        assert proc.returncode == 0, proc.stdout + proc.stderr
        checks = json.loads(proc.stdout)["checks"]
        assert [(c["name"], c["status"]) for c in checks] == [
            ("service-start", "pass"),
            ("service-health", "pass"),
            ("service-performance", "pass"),
        ]
        assert checks[1]["evidence"]["status"]["pid"] == pid
