"""Honest records: started runs, interrupted runs, runs in progress and unrecorded files."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from runbook_lib.evidence import index
from runbook_lib.evidence.amend import close_interrupted, seal_by_hand, seal_changes
from runbook_lib.evidence.chain import append_run, read_chain
from runbook_lib.evidence.layout import JOURNAL_FILE, RUN_LOCK
from runbook_lib.evidence.seal import seal, verify_incident, verify_or_note
from runbook_lib.evidence.started import open_runs, record_start
from runbook_lib.incident.journal import JournalEvent, read_journal

INCIDENT = "INC-20261123-0612-3fa2"


@pytest.fixture
def sealed(tmp_path: Path) -> tuple[Path, Path]:
    store = tmp_path / "outputs"
    incident = store / "incidents" / INCIDENT
    (incident / "runs").mkdir(parents=True)
    (incident / "incident.json").write_text(json.dumps({"id": INCIDENT}))
    out = incident / "runs" / "01-01_assessment.ipynb"
    out.write_text(json.dumps({"cells": []}))
    record = append_run(
        incident,
        {
            "incident": INCIDENT,
            "notebook": "01_assessment.ipynb",
            "status": "ok",
            "output": "runs/01-01_assessment.ipynb",
        },
    )
    index.add_run(store, record)
    seal(store, incident, facts={"versions": {}})
    return store, incident


def _start(tmp_path: Path, incident: Path) -> Path:
    notebook = tmp_path / "02_rollback.ipynb"
    notebook.write_text(json.dumps({"cells": []}))
    output = incident / "runs" / "02-02_rollback.ipynb"
    record_start(incident, output, notebook, {"strategy": "config"})
    output.write_text('{"cells": [], "partial": true}')  # the kernel wrote half of it
    return output


def test_forged_files_are_unrecorded_and_a_reseal_keeps_them(sealed: tuple[Path, Path]) -> None:
    store, incident = sealed
    (incident / "runs" / "09-forged-approval.ipynb").write_text("{}")
    (incident / "checks-approval.json").write_text('{"approved": true}')
    expected = [
        "unrecorded file: checks-approval.json",
        "unrecorded file: runs/09-forged-approval.ipynb",
    ]
    assert verify_incident(store, incident).problems == expected
    assert seal_changes(store, incident) == expected  # a writer's reseal does not absorb them
    kept = verify_incident(store, incident).problems
    assert [p.split(" (found")[0] for p in kept] == [f"earlier: {p}" for p in expected]


def test_killed_run_is_an_interrupted_run_then_recorded(
    sealed: tuple[Path, Path], tmp_path: Path
) -> None:
    store, incident = sealed
    _start(tmp_path, incident)
    problems = verify_or_note(store, incident).problems
    assert next(p for p in problems if p.startswith("interrupted ")).startswith(
        "interrupted run 2 (02_rollback.ipynb): started "
    )
    assert not [p for p in problems if p.startswith("unrecorded")]
    close_interrupted(store, incident)
    seal_changes(store, incident)
    report = verify_or_note(store, incident)
    assert report.ok, report.problems
    assert "interrupted run 2 (02_rollback.ipynb), recorded" in report.notes
    assert read_chain(incident)[-1]["status"] == "interrupted" and not open_runs(incident)


def test_verify_during_a_run_reports_it_in_progress(
    sealed: tuple[Path, Path], tmp_path: Path
) -> None:
    store, incident = sealed
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from filelock import FileLock; "
            f"lock = FileLock({str(incident / RUN_LOCK)!r}); lock.acquire(); print('held', "
            "flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        _start(tmp_path, incident)
        (incident / "parity.json").write_text("{}")
        report = verify_or_note(store, incident)
    finally:
        os.kill(holder.pid, signal.SIGTERM)
        holder.wait()
    assert report.ok, report.problems
    assert (
        "run 2 (02_rollback.ipynb) in progress; its files are checked at its seal" in report.notes
    )


def test_seal_by_hand_records_who_sealed_which_files(sealed: tuple[Path, Path]) -> None:
    store, incident = sealed
    (incident / "notes.txt").write_text("written by hand")
    assert seal_by_hand(store, incident, "alice") == ["notes.txt"]
    report = verify_incident(store, incident)
    assert report.ok, report.problems
    last = read_journal(incident / JOURNAL_FILE).records[-1]
    assert last["event"] == JournalEvent.SEALED_BY_HAND
    assert last["by"] == "alice" and last["files"] == ["notes.txt"]


def test_archive_seal_command(sealed: tuple[Path, Path]) -> None:
    store, incident = sealed
    (incident / "notes.txt").write_text("written by hand")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "runbook_lib.app.cli",
            "archive",
            "seal",
            INCIDENT,
            "--archive",
            str(store),
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "1 unrecorded file(s)" in done.stdout and "notes.txt" in done.stdout
    verified = subprocess.run(
        [
            sys.executable,
            "-m",
            "runbook_lib.app.cli",
            "archive",
            "verify",
            INCIDENT,
            "--archive",
            str(store),
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr
