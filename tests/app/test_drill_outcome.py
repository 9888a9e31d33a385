"""The drill's decisions, verdicts and evidence stay what they were before the speed work.

``data/drill_outcomes.json`` was written from the drill as it ran before the
chain was made faster (checks side by side, kernels started ahead). The
comparison is of structured outputs only: the decision and its branch, the
parity verdict, each check's name and status, each run's notebook and status,
the incident's state and which evidence files exist; never timings or hashes.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from runbook_lib.app.drill import DrillReport
from tests.drillutil import DrillRunner

GOLDEN = Path(__file__).parent / "data" / "drill_outcomes.json"
SCENARIOS = ("perf-regression", "result-bug")


def _read(path: Path) -> dict[str, Any]:
    return dict(json.loads(path.read_text(encoding="utf-8"))) if path.is_file() else {}


def _evidence_shape(directory: Path) -> list[str]:
    """The evidence files' paths, with run numbers and time stamps as ``N``."""
    return sorted(
        {
            re.sub(r"[0-9a-f]*[0-9][0-9a-f]*", "N", p.relative_to(directory).as_posix())
            for p in directory.rglob("*")
            if p.is_file()
        }
    )


def outcome_of(archive: Path, report: DrillReport) -> dict[str, Any]:
    """The structured outcome of one drill (what the golden file records)."""
    directory = archive / "incidents" / report.incident
    decision = _read(directory / "decision.json")
    parity = _read(directory / "parity.json")
    checks = sorted((directory / "checks").glob("verify-*.json"))
    verify = _read(checks[-1]) if checks else {}
    incident = _read(directory / "incident.json")
    return {
        "decision": {k: decision.get(k) for k in ("outcome", "strategy", "path")},
        "report": {
            "decision": report.decision,
            "strategy": report.strategy,
            "verdict": report.verdict,
            "checks_failed": report.checks_failed,
            "archive_ok": report.archive_ok,
            "ok": report.ok,
        },
        "parity_verdict": parity.get("verdict"),
        "checks": [[c["name"], c["status"]] for c in verify.get("checks", [])],
        "runs": [[r["notebook"], r["status"]] for r in report.runs],
        "state": incident.get("state"),
        "evidence": _evidence_shape(directory),
    }


@pytest.mark.slow
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_drill_outcome_is_unchanged(scenario: str, executed_drill: DrillRunner) -> None:
    expected = json.loads(GOLDEN.read_text(encoding="utf-8"))[scenario]
    drill = executed_drill(scenario, episodes=4)  # the same run test_drill.py reads
    assert outcome_of(drill.archive, drill.report) == expected
