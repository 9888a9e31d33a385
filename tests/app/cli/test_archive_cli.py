"""``runbook archive``: list, show, verify (every kind of tampering named) and the report bundle."""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
import tarfile
from pathlib import Path

import pytest

from runbook_lib.app.cli import main
from runbook_lib.decide.tree import Assessment, decide
from runbook_lib.evidence import index
from runbook_lib.evidence.layout import CHAIN, MANIFEST
from runbook_lib.evidence.records import record_checks, record_decision
from runbook_lib.evidence.seal import inventory
from runbook_lib.incident.store import advance_incident, incident_dir, open_incident
from runbook_lib.runs.run import run_notebook
from tests.runutil import make_notebook

PLOT_CELL = """\
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
plt.plot([1, 2, 3]); plt.show()
"""


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, sandbox: Path) -> tuple[Path, str]:
    """An archive with one incident: two runs (one failed), a decision and checks."""
    root = tmp_path_factory.mktemp("archive-cli")
    store = root / "archive"
    incident = open_incident(store, "reward differs by 3%", "medium", "result-difference").id
    directory = incident_dir(store, incident)
    nb = make_notebook(root / "01_assess.ipynb", PLOT_CELL)
    run_notebook(
        nb, incident, archive=store, target=sandbox, parameters={"episodes": 2}, progress=False
    )
    bad = make_notebook(root / "02_fails.ipynb", "raise RuntimeError('boom')")
    run_notebook(bad, incident, archive=store, target=sandbox, progress=False)
    advance_incident(store, incident, "assessed", note="parity within tolerance")
    record_decision(
        store, directory, decide(Assessment(difference_pct=3.0)).to_dict(), source="test"
    )
    record_checks(
        store,
        directory,
        "verify",
        [
            {"name": "factory.legacy", "status": "pass", "summary": "legacy env chosen"},
            {"name": "smoke.train", "status": "fail", "summary": "exit 1", "blocking": True},
        ],
    )
    return store, incident


@pytest.fixture
def store(built: tuple[Path, str], tmp_path: Path) -> Path:
    copy = tmp_path / "archive"
    shutil.copytree(built[0], copy)
    return copy


@pytest.fixture
def incident(built: tuple[Path, str]) -> str:
    return built[1]


def verify(store: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["archive", "verify", *args, "--archive", str(store)])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_list_and_show(store: Path, incident: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["archive", "list", "--archive", str(store)]) == 0
    line = capsys.readouterr().out.splitlines()[1]
    assert (
        line.startswith(incident)
        and " assessed " in line
        and "   2  " in line
        and "reward differs" in line
    )
    assert main(["archive", "list", "--archive", str(store), "--json"]) == 0
    [item] = json.loads(capsys.readouterr().out)["incidents"]
    assert item["runs"] == 2 and item["failed_runs"] == 1 and item["sealed_at"]
    assert main(["archive", "show", incident, "--archive", str(store), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert [r["status"] for r in shown["runs"]] == ["ok", "failed"]
    assert [d["decision"] for d in shown["decisions"]] == ["document-within-tolerance"]
    assert [(c["name"], c["status"]) for c in shown["checks"]] == [
        ("factory.legacy", "pass"),
        ("smoke.train", "fail"),
    ]
    assert (
        "runs/01-01_assess.html" in shown["files"]
        and "decisions/01-document-within-tolerance.json" in shown["files"]
    )
    kinds = [event["kind"] for event in shown["timeline"]]
    assert kinds[0] == "state" and "run" in kinds and "decision" in kinds and "checks" in kinds
    assert main(["archive", "show", incident, "--archive", str(store)]) == 0
    text = capsys.readouterr().out
    assert " 2  failed  02_fails.ipynb" in text and "fail  smoke.train: exit 1  [verify]" in text
    # Times read in UTC to the second: no ISO text, no fraction of a second, no offset.
    timeline = text.split("timeline:\n", 1)[1].splitlines()
    assert re.match(r"  20\d\d-\d\d-\d\d \d\d:\d\d:\d\d UTC  opened", timeline[0]), timeline[0]
    assert not re.search(r"\d{4}-\d\d-\d\dT\d\d:|\d:\d\d\.\d|\+00:00", text), text


def test_a_clean_archive_verifies(
    store: Path, incident: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = verify(store, capsys, "--json")
    assert code == 0, out
    data = json.loads(out)
    assert data["consistent"] is True and data["incidents"][0]["runs_checked"] == 2
    assert data["incidents"][0]["files_checked"] >= 9
    code, out, _ = verify(store, capsys, incident)
    assert code == 0 and out.startswith(f"unsigned: cannot prove {incident} ")


def test_changing_one_byte_of_any_archived_file_is_named(
    store: Path, incident: str, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = incident_dir(store, incident)
    names = [*sorted(inventory(directory)), MANIFEST]
    assert len(names) >= 10
    for name in names:
        path = directory / name
        original = path.read_bytes()
        changed = bytearray(original)
        changed[len(changed) // 2] ^= 0x01
        path.write_bytes(bytes(changed))
        code, out, err = verify(store, capsys)
        path.write_bytes(original)
        assert code == 1, name
        assert f"modified: {name}" in out, (name, out)
        assert (
            err.startswith("runbook: error: archive verification failed") and err.count("\n") == 1
        )
    assert verify(store, capsys)[0] == 0


def test_deleted_and_added_files_are_named(
    store: Path, incident: str, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = incident_dir(store, incident)
    (directory / "runs" / "01-01_assess.html").unlink()
    (directory / "comms").mkdir()
    (directory / "comms" / "planted.md").write_text("not from the runbook")
    code, out, _ = verify(store, capsys, incident)
    assert code == 1
    assert f"{incident}: missing: runs/01-01_assess.html" in out
    assert f"{incident}: added: comms/planted.md" in out


def test_an_edited_run_record_breaks_the_chain(
    store: Path, incident: str, capsys: pytest.CaptureFixture[str]
) -> None:
    chain = incident_dir(store, incident) / CHAIN
    lines = chain.read_text().splitlines()
    second = json.loads(lines[1])
    second["status"] = "ok"
    chain.write_text("\n".join([lines[0], json.dumps(second, sort_keys=True)]) + "\n")
    code, out, _ = verify(store, capsys)
    assert code == 1
    assert "chain: run 2 (02_fails.ipynb) was edited (its hash no longer matches)" in out
    assert "modified: runs/chain.jsonl" in out


def test_a_lost_index_row_and_a_lost_incident_are_named(
    store: Path, incident: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with sqlite3.connect(index.index_path(store)) as conn:
        conn.execute("DELETE FROM runs WHERE seq = 2")
    code, out, _ = verify(store, capsys)
    assert code == 1 and "index: run 2 (02_fails.ipynb) is missing from the index" in out
    shutil.rmtree(incident_dir(store, incident))
    code, out, _ = verify(store, capsys)
    assert (
        code == 1
        and f"missing: the whole incident directory {incident} (sealed in the index)" in out
    )


def test_an_incident_never_sealed_is_only_noted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "archive"
    open_incident(store, "fresh", "low", "other")
    code, out, _ = verify(store, capsys)
    assert code == 0 and "not sealed yet" in out


@pytest.mark.slow
def test_a_secret_leaked_by_a_kernel_is_found(
    tmp_path: Path,
    sandbox: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    store = tmp_path / "archive"
    incident = open_incident(store, "leak drill", "low", "other").id
    monkeypatch.setenv(
        "TRADE_API_TOKEN", "tok-0123456789-drill"
    )  # reaches the kernel by its environment
    # The whole value would be redacted as it is written; a fragment is still found.
    nb = make_notebook(
        tmp_path / "leaks.ipynb", "import os; print(os.environ['TRADE_API_TOKEN'][:12])"
    )
    assert run_notebook(nb, incident, archive=store, target=sandbox, progress=False).ok
    leak = "secret: the value of $TRADE_API_TOKEN appears in runs/01-leaks.ipynb"
    code, out, _ = verify(store, capsys, "--target", str(sandbox))  # the manifest declares it
    assert code == 1 and leak in out and "runs/01-leaks.html" in out
    code, out, _ = verify(store, capsys, "--secret", "TRADE_API_TOKEN")
    assert code == 1 and leak in out
    monkeypatch.chdir(tmp_path)  # no manifest around, no --secret: nothing to scan for
    assert verify(store, capsys)[0] == 0


def test_the_report_bundle(
    store: Path, incident: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out" / "postmortem.tar.gz"
    assert main(["archive", "report", incident, "--out", str(out), "--archive", str(store)]) == 0
    assert capsys.readouterr().out.strip() == str(out.resolve())
    assert [p.name for p in out.parent.iterdir()] == ["postmortem.tar.gz"]  # no temporary file left
    with tarfile.open(out) as tar:
        names = set(tar.getnames())
        member = tar.extractfile(f"{incident}/index.html")
        assert member is not None
        page = member.read().decode()
    files = inventory(incident_dir(store, incident))
    assert {f"{incident}/incident/{name}" for name in files} <= names
    assert f"{incident}/incident/archive.lock" not in names
    for href in ("incident/runs/01-01_assess.html", "incident/runs/02-02_fails.html"):
        assert f'href="{href}"' in page and f"{incident}/{href}" in names
    assert "RuntimeError: boom" in page and 'class="failed">failed' in page
    assert "document (within tolerance)" in page and "smoke.train" in page
    assert "clean: " in page and files["incident.json"]["sha256"] in page
    assert "parity within tolerance" in page  # the timeline
    assert "<script" not in page
    assert verify(store, capsys)[0] == 0  # the bundle changed nothing in the incident


def test_report_refuses_to_write_into_the_incident(
    store: Path, incident: str, capsys: pytest.CaptureFixture[str]
) -> None:
    inside = incident_dir(store, incident) / "report.tar.gz"
    assert main(["archive", "report", incident, "--out", str(inside), "--archive", str(store)]) == 2
    assert "lies inside the incident directory" in capsys.readouterr().err
    assert main(["archive", "report", incident, "--archive", str(store)]) == 0
    assert (store / "reports" / f"{incident}.tar.gz").is_file()


def test_checks_saved_by_another_writer_are_shown(
    store: Path, incident: str, capsys: pytest.CaptureFixture[str]
) -> None:
    checks = incident_dir(store, incident) / "checks"
    (checks / "verify-20261123T101500Z.json").write_text(
        json.dumps(
            {
                "started_at": "2026-11-23T10:15:00+00:00",
                "checks": [
                    {
                        "name": "config.valid",
                        "status": "pass",
                        "summary": "sac_config.json is valid",
                    }
                ],
            }
        )
    )
    assert main(["archive", "show", incident, "--archive", str(store), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert {
        "source": "verify-20261123T101500Z",
        "name": "config.valid",
        "status": "pass",
        "summary": "sac_config.json is valid",
        "blocking": True,
        "recorded_at": "2026-11-23T10:15:00+00:00",
    } in shown["checks"]
    assert (
        sum(c["source"] == "verify" for c in shown["checks"]) == 2
    )  # indexed ones are not doubled
