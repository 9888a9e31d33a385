"""The runbook notebooks: stored clean, parameterized, and executed against a sandbox."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from runbook_lib.incident.store import open_incident
from runbook_lib.runs.runner import execute

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb"))
PARAM_LINE = re.compile(r"^[a-z_][a-z0-9_]*: [\w| ]+ = .+  # .+$")


def test_the_eight_runbooks_exist() -> None:
    assert [p.stem for p in NOTEBOOKS] == [
        "00_triage",
        "01_assessment",
        "02_rollback",
        "03_parity",
        "04_verification",
        "05_recovery",
        "06_postmortem",
        "07_readiness",
    ]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_stored_without_outputs(path: Path) -> None:
    book = nbformat.read(path, as_version=4)
    nbformat.validate(book)
    for cell in book.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, cell.id


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_parameters_cell_is_typed_and_commented_then_validated(path: Path) -> None:
    book = nbformat.read(path, as_version=4)
    code = [c for c in book.cells if c.cell_type == "code"]
    assert "parameters" in code[0].metadata.get("tags", [])
    for line in code[0].source.splitlines():
        assert PARAM_LINE.match(line), line
    assert "params.validate(globals())" in code[1].source


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebooks_hold_no_function_definitions_and_cite_the_seeds(path: Path) -> None:
    book = nbformat.read(path, as_version=4)
    for cell in book.cells:
        if cell.cell_type == "code":
            assert not re.search(r"^\s*(def|class) ", cell.source, re.M), cell.id
    text = " ".join(c.source for c in book.cells if c.cell_type == "markdown")
    assert re.search(r"[Ss]eed 00[03]", text)


def outputs_text(path: Path) -> str:
    book = nbformat.read(path, as_version=4)
    parts = []
    for cell in book.cells:
        for output in cell.get("outputs", []):
            parts.append(output.get("text", ""))
            parts.append(output.get("data", {}).get("text/plain", ""))
            parts.append(output.get("evalue", ""))
    return "\n".join(parts)


@pytest.mark.slow
def test_triage_runs_headless_to_a_decision_and_a_plan(
    fresh_sandbox: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = tmp_path / "archive"
    monkeypatch.setenv("RUNBOOK_TARGET", str(fresh_sandbox))
    monkeypatch.setenv("RUNBOOK_ARCHIVE", str(archive))
    output = tmp_path / "triage.ipynb"
    result = execute(
        NOTEBOOKS[0],
        output,
        {"regression_pct": 35.0, "kind": "perf-regression", "decide_now": True},
        cwd=tmp_path,
        progress=False,
    )
    assert result.ok, result.error
    text = outputs_text(output)
    assert "decision: code-level rollback + profile and optimize" in text
    assert "call create_sim_env with env_type=EnvType.LEGACY in scripts/run_rsa.py" in text
    assert "not applied" in text


@pytest.mark.slow
def test_unknown_parameter_stops_the_run_naming_it(
    fresh_sandbox: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = tmp_path / "archive"
    incident = open_incident(archive, "t", "low", "other").id
    monkeypatch.setenv("RUNBOOK_TARGET", str(fresh_sandbox))
    monkeypatch.setenv("RUNBOOK_ARCHIVE", str(archive))
    output = tmp_path / "out.ipynb"
    result = execute(
        NOTEBOOKS[6], output, {"incident": incident, "epsiodes": 3}, cwd=tmp_path, progress=False
    )
    assert result.status == "failed"
    assert result.error is not None and "unknown parameter(s): epsiodes" in result.error["evalue"]
    assert "this notebook accepts: incident" in result.error["evalue"]


@pytest.mark.slow
def test_the_triage_button_chain_runs_every_notebook_with_the_triage_facts(
    fresh_sandbox: Path, tmp_path: Path
) -> None:
    from runbook_lib.app.nb import Session
    from runbook_lib.app.triage import CHAIN, facts_from, run_headless_chain
    from runbook_lib.target.manifest import load_manifest

    archive = tmp_path / "archive"
    incident = open_incident(archive, "slow training", "high", "perf-regression").id
    session = Session(load_manifest(fresh_sandbox), archive.resolve(), incident)
    facts = facts_from(False, 33.0, None, 5.0, "unknown")
    results = run_headless_chain(session, facts)
    assert results == [(name, "ok") for name in CHAIN]
    decision = (session.directory / "decision.json").read_text()
    assert '"outcome": "code-rollback"' in decision
    assert session.incident().state == "verified"


@pytest.mark.slow
def test_readiness_runs_through_runbook_run_and_keeps_the_matrix(
    fresh_sandbox: Path, tmp_path: Path
) -> None:
    from runbook_lib.base.fsutil import workspace_hash
    from tests.runutil import cli

    archive = tmp_path / "archive"
    incident = open_incident(archive, "nightly readiness", "low", "other").id
    before = workspace_hash(fresh_sandbox)
    proc = cli(
        "run",
        "readiness",
        "--incident",
        incident,
        "--target",
        str(fresh_sandbox),
        "--archive",
        str(archive),
        "-p",
        "strategies",
        "env-var,force",
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    directory = archive / "incidents" / incident
    text = outputs_text(next((directory / "runs").glob("*07_readiness.ipynb")))
    assert "every declared strategy is ready" in text
    assert (directory / "readiness" / "01-readiness.json").is_file()
    assert workspace_hash(fresh_sandbox) == before
