"""Every drill scenario, end to end: the expected decision and a verified archive."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runbook_lib.app.drill import SCENARIOS, run_drill
from runbook_lib.base.errors import InvalidInputError
from runbook_lib.decide.tree import rolls_back
from runbook_lib.incident.store import load_incident
from tests.drillutil import DrillRunner


@pytest.mark.slow
@pytest.mark.parametrize("name", list(SCENARIOS))
def test_scenario_ends_with_its_decision_and_a_verified_archive(
    name: str, executed_drill: DrillRunner
) -> None:
    drill = executed_drill(name)
    report, archive = drill.report, drill.archive
    assert report.decision == SCENARIOS[name].expected
    failed = [r for r in report.runs if r["status"] != "ok"]
    assert not failed, failed
    assert report.archive_ok, report.archive_problems
    assert report.ok
    state = load_incident(archive, report.incident).state
    if SCENARIOS[name].fix:
        assert state == "recovered"
    elif rolls_back(report.strategy):
        assert state == "verified"
    postmortem = archive / "incidents" / report.incident / "postmortem.md"
    assert "## Phases against seed 003's estimates" in postmortem.read_text()
    json.dumps(report.to_dict())


def test_unknown_scenario_lists_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="choose one of: crash, perf-regression"):
        run_drill(tmp_path, "nope")
    assert not tmp_path.joinpath("drills").exists()
