"""Documenting a difference in the sandbox's rl_differences.md: dated, journaled, undoable, resumable."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from runbook_lib.base import crashpoints
from runbook_lib.base.errors import InvalidInputError
from runbook_lib.base.fsutil import workspace_hash
from runbook_lib.decide.tree import Assessment, decide
from runbook_lib.evidence import index
from runbook_lib.evidence.amend import seal_by_hand
from runbook_lib.evidence.records import record_decision
from runbook_lib.evidence.seal import verify_incident
from runbook_lib.incident.journal import read_journal
from runbook_lib.incident.ref import IncidentRef
from runbook_lib.incident.store import incident_dir, open_incident
from runbook_lib.rollback.actions.differences import DEFAULT_DOC, MARKER, append_entry
from runbook_lib.rollback.actions.registry import ACTIONS
from runbook_lib.rollback.documenting import document_difference, undo_difference
from runbook_lib.target.gitutil import git
from tests.runutil import cli

DAY = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return tmp_path / "archive"


def incident_deciding(store: Path, **facts: Any) -> str:
    incident = open_incident(
        store, "total reward lower with the unified env", "medium", "result-difference"
    ).id
    record_decision(
        store, incident_dir(store, incident), decide(Assessment(**facts)).to_dict(), source="test"
    )
    return incident


def parity_evidence(store: Path, directory: Path) -> dict[str, Any]:
    """A parity run's evidence, written by hand and sealed as such (no writer recorded it)."""
    (directory / "parity").mkdir(parents=True, exist_ok=True)
    (directory / "parity" / "total_reward.png").write_bytes(b"\x89PNG\r\n\x1a\nplot")
    seal_by_hand(store, directory, "test fixture")
    return {
        "summary": "total reward 3% lower in UnifiedSimEnv",
        "verdict": "PASS",
        "reason": "every metric within its margin",
        "step_agreement": 0.9731,
        "throughput_regression_pct": 3.2,
        "episodes": 20,
        "spec": {"seeds": [0, 1]},
        "first_divergence": {
            "episode": 0,
            "step": 41,
            "field": "reward",
            "legacy": 1.0,
            "candidate": -1.0,
        },
        "metrics": {
            "total_reward": {
                "legacy_mean": 152.5,
                "candidate_mean": 147.9,
                "relative_difference": -0.0302,
                "ci_low": -0.041,
                "ci_high": -0.019,
                "margin": 0.05,
                "verdict": "PASS",
            },
            "episode_length": 200,
        },
        "plots": ["parity/total_reward.png"],
        "parity_report": "parity.json",
    }


def test_an_entry_is_appended_after_the_marker(fresh_sandbox: Path, store: Path) -> None:
    incident = incident_deciding(store, difference_pct=3.0)
    directory = incident_dir(store, incident)
    doc = fresh_sandbox / DEFAULT_DOC
    before = doc.read_text()
    before_hash = workspace_hash(fresh_sandbox)
    result = document_difference(
        IncidentRef(fresh_sandbox, store, incident), parity_evidence(store, directory), now=DAY
    )
    assert result.report.ok and result.plan.strategy == "document-difference"
    text = doc.read_text()
    assert text.startswith(
        before.rstrip("\n") + "\n\n### 2026-11-23: total reward 3% lower in UnifiedSimEnv "
        f"({incident})\n"
    )
    entry = text[text.index(MARKER) :]
    for line in (
        "- Decision: document (within tolerance) (`document-within-tolerance`, seed 000 §2)",
        "- Parity verdict: PASS: every metric within its margin",
        "- Steps that agree: 97.31%",
        "- Throughput regression: 3.2%",
        "- First divergence: episode 0, step 41, field reward",
        "| total_reward | 152.5 | 147.9 | -3.02% | [-4.10%, -1.90%] | ±5.0% | PASS |",
        "| episode_length | | 200 | | | | |",
    ):
        assert line in entry, line
    link = entry.split("Plots: [total_reward](")[1].split(")")[0]
    assert (doc.parent / link).resolve() == (directory / "parity" / "total_reward.png").resolve()
    status = git(fresh_sandbox, ["status", "--porcelain"]).split("\n")
    assert [line for line in status if line and ".runbook" not in line] == [f" M {DEFAULT_DOC}"]
    events = [r["event"] for r in read_journal(directory / "journal.jsonl").records]
    assert [e for e in events if e not in ("decision", "sealed-by-hand")] == [
        "plan",
        "begin",
        "intent",
        "outcome",
        "end",
        "checks",
    ]
    rows = index.query(store, "SELECT name, status FROM checks WHERE incident = ?", (incident,))
    assert rows == [{"name": "differences-entry.verify", "status": "pass"}]
    assert verify_incident(store, directory).ok

    undo = undo_difference(IncidentRef(fresh_sandbox, store, incident), result.plan.sha256)
    assert undo.steps_done == [f"document the difference in {DEFAULT_DOC}"]
    assert doc.read_text() == before and workspace_hash(fresh_sandbox) == before_hash
    assert verify_incident(store, directory).ok


def test_entries_are_added_newest_last_and_never_twice() -> None:
    doc = "# Differences\n\n## Entries\n\n" + MARKER + "\n"
    one = append_entry(doc, "### 2026-11-20: first\n")
    two = append_entry(one, "### 2026-11-23: second\n")
    assert two.endswith(MARKER + "\n\n### 2026-11-20: first\n\n### 2026-11-23: second\n")
    assert append_entry(two, "### 2026-11-20: first\n") == two
    bare = append_entry("# Differences\n", "### 2026-11-20: first\n")
    assert bare == f"# Differences\n\n## Entries\n\n{MARKER}\n\n### 2026-11-20: first\n"


@pytest.mark.parametrize(
    ("facts", "message"),
    [
        ({"regression_pct": 35.0}, "the decision is 'code-rollback', not to document"),
        (
            {"difference_pct": 9.0, "intentional": False},
            "the decision is 'rollback-and-fix', not to document",
        ),
    ],
)
def test_only_a_decision_to_document_is_documented(
    fresh_sandbox: Path, store: Path, facts: dict[str, Any], message: str
) -> None:
    incident = incident_deciding(store, **facts)
    doc = fresh_sandbox / DEFAULT_DOC
    before = doc.read_bytes()
    with pytest.raises(InvalidInputError, match=message):
        document_difference(IncidentRef(fresh_sandbox, store, incident), {"summary": "x"})
    assert doc.read_bytes() == before
    assert not (incident_dir(store, incident) / "plans").exists()


def test_bad_requests_change_nothing(fresh_sandbox: Path, store: Path) -> None:
    bare = open_incident(store, "no decision yet", "low", "other").id
    with pytest.raises(InvalidInputError, match="has no decision to document"):
        document_difference(IncidentRef(fresh_sandbox, store, bare), {"summary": "x"})
    incident = incident_deciding(store, difference_pct=2.0, intentional=True)
    with pytest.raises(InvalidInputError, match=r"unknown evidence key\(s\): colour"):
        document_difference(IncidentRef(fresh_sandbox, store, incident), {"colour": "red"})
    with pytest.raises(InvalidInputError, match=r"evidence\['plots'\] must be a list"):
        document_difference(IncidentRef(fresh_sandbox, store, incident), {"plots": "a.png"})
    with pytest.raises(
        InvalidInputError, match=r"differences document .*missing\.md does not exist"
    ):
        document_difference(IncidentRef(fresh_sandbox, store, incident), {}, doc="docs/missing.md")
    assert not (incident_dir(store, incident) / "plans").exists()


SCRIPT = """\
import json, sys
from pathlib import Path
from runbook_lib.incident.ref import IncidentRef
from runbook_lib.rollback.documenting import document_difference
ref = IncidentRef(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3])
document_difference(ref, json.loads(sys.argv[4]))
"""


@pytest.mark.slow
def test_an_interrupted_entry_is_resumed_by_the_rollback_engine(
    fresh_sandbox: Path, store: Path, tmp_path: Path
) -> None:
    assert ACTIONS.get("differences-entry") is not None
    incident = incident_deciding(store, difference_pct=1.0)
    doc = fresh_sandbox / DEFAULT_DOC
    before = doc.read_bytes()
    args = [
        sys.executable,
        "-c",
        SCRIPT,
        str(fresh_sandbox),
        str(store),
        incident,
        json.dumps({"summary": "drift"}),
    ]
    log = tmp_path / "points.log"
    (fresh_sandbox / ".runbook").mkdir(exist_ok=True)
    (fresh_sandbox / crashpoints.MARKER).touch()  # the hooks' second switch
    env = {**os.environ, "RUNBOOK_CRASH_LOG": str(log)}
    assert subprocess.run(args, env=env, check=False, capture_output=True).returncode == 0
    labels = [line.split("\t")[1] for line in log.read_text().splitlines()]
    plan = (incident_dir(store, incident) / "plans" / "latest").read_text().strip()
    undo_difference(IncidentRef(fresh_sandbox, store, incident), plan)
    assert doc.read_bytes() == before
    crash_at = labels.index("journal outcome") + 1  # the file is written, its outcome not journaled
    env = {**os.environ, "RUNBOOK_CRASH_AT": str(crash_at)}
    assert subprocess.run(args, env=env, check=False, capture_output=True).returncode == -9
    assert b"### " in doc.read_bytes()[len(before) :]
    proc = cli(
        "rollback",
        "resume",
        "--incident",
        incident,
        "--revert",
        "--yes",
        "--target",
        str(fresh_sandbox),
        "--archive",
        str(store),
    )
    assert proc.returncode == 0, proc.stderr
    assert doc.read_bytes() == before
