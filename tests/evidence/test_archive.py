from __future__ import annotations

import json
from pathlib import Path

import pytest

from runbook_lib.evidence import index
from runbook_lib.evidence.chain import append_run
from runbook_lib.evidence.layout import CHAIN, MANIFEST
from runbook_lib.evidence.seal import seal, verify_incident


@pytest.fixture
def sealed(tmp_path: Path) -> tuple[Path, Path]:
    store = tmp_path / "outputs"
    incident = store / "incidents" / "INC-20261123-0612-3fa2"
    (incident / "runs").mkdir(parents=True)
    (incident / "incident.json").write_text('{"id": "INC-20261123-0612-3fa2"}')
    for seq, name in enumerate(["01_assessment", "02_rollback"], 1):
        out = incident / "runs" / f"0{seq}-{name}.ipynb"
        out.write_text(json.dumps({"cells": [], "name": name}))
        record = append_run(
            incident,
            {
                "incident": incident.name,
                "notebook": name,
                "status": "ok",
                "output": out.name,
                "output_sha256": "x",
            },
        )
        index.add_run(store, record)
    (incident / "archive.lock").write_text("")
    seal(store, incident, facts={"versions": {}})
    return store, incident


def test_clean_archive_verifies(sealed: tuple[Path, Path]) -> None:
    store, incident = sealed
    report = verify_incident(store, incident)
    assert report.ok, report.problems
    assert report.runs_checked == 2 and report.files_checked == 4


def test_changed_byte_is_named(sealed: tuple[Path, Path]) -> None:
    store, incident = sealed
    path = incident / "runs" / "01-01_assessment.ipynb"
    data = bytearray(path.read_bytes())
    data[5] ^= 1
    path.write_bytes(bytes(data))
    assert verify_incident(store, incident).problems == ["modified: runs/01-01_assessment.ipynb"]


def test_deleted_and_added_files_are_named(sealed: tuple[Path, Path]) -> None:
    store, incident = sealed
    (incident / "incident.json").unlink()
    (incident / "runs" / "extra.txt").write_text("planted")
    assert verify_incident(store, incident).problems == [
        "missing: incident.json",
        "unrecorded file: runs/extra.txt",
    ]


def test_edited_run_record_breaks_the_chain(sealed: tuple[Path, Path]) -> None:
    store, incident = sealed
    path = incident / CHAIN
    lines = path.read_text().splitlines()
    first = json.loads(lines[0])
    first["status"] = "failed"
    path.write_text("\n".join([json.dumps(first), lines[1]]) + "\n")
    problems = verify_incident(store, incident).problems
    assert "modified: runs/chain.jsonl" in problems
    assert "chain: run 1 (01_assessment) was edited (its hash no longer matches)" in problems


def test_resealed_manifest_after_tampering_is_caught_by_the_index(
    sealed: tuple[Path, Path],
) -> None:
    store, incident = sealed
    manifest = json.loads((incident / MANIFEST).read_text())
    manifest["files"]["incident.json"]["sha256"] = "0" * 64
    (incident / MANIFEST).write_text(json.dumps(manifest))
    problems = verify_incident(store, incident).problems
    assert "modified: manifest.json (its hash differs from the sealed one)" in problems


def test_secret_value_in_a_file_fails(
    sealed: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    store, incident = sealed
    monkeypatch.setenv("TRADE_API_TOKEN", "s3cr3t-value-123")
    (incident / "runs" / "01-01_assessment.ipynb").write_text('{"leak": "s3cr3t-value-123"}')
    seal(store, incident, facts={})
    problems = verify_incident(store, incident, ["TRADE_API_TOKEN"]).problems
    assert problems == [
        "secret: the value of $TRADE_API_TOKEN appears in runs/01-01_assessment.ipynb (raw)"
    ]


def test_index_lists_runs(sealed: tuple[Path, Path]) -> None:
    store, _ = sealed
    rows = index.query(store, "SELECT seq, notebook, status FROM runs ORDER BY seq")
    assert rows == [
        {"seq": 1, "notebook": "01_assessment", "status": "ok"},
        {"seq": 2, "notebook": "02_rollback", "status": "ok"},
    ]
    mode = index.query(store, "PRAGMA journal_mode")
    assert mode == [{"journal_mode": "wal"}]
