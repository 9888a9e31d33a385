from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from runbook_lib.base.errors import InvalidInputError, StalePlanError, WorkspaceError
from runbook_lib.base.fsutil import tree_hash
from runbook_lib.incident.journal import find_interrupted
from runbook_lib.rollback.actions.envflags import ConfigFlagAction, EnvVarAction, ForceFlagAction
from runbook_lib.rollback.engine import (
    apply_plan,
    context_for,
    make_plan,
    resume,
    undo_plan,
)
from runbook_lib.rollback.plans import load_plan

CONFIG = "[rl]\n# switch\nuse_unified_env = true\n"
FACTORY = "_FORCE_LEGACY_ENV = False\n"


@pytest.fixture
def target(tmp_path: Path) -> Path:
    root = tmp_path / "target"
    root.mkdir()
    (root / "config.ini").write_text(CONFIG)
    (root / "factory.py").write_text(FACTORY)
    return root


def actions() -> list[Any]:
    return [
        EnvVarAction({"USE_UNIFIED_ENV": "0", "RL_ENV_TYPE": "legacy"}),
        ConfigFlagAction("config.ini", "rl", "use_unified_env", "false"),
        ForceFlagAction("factory.py", "_FORCE_LEGACY_ENV"),
    ]


def test_plan_apply_undo_round_trip(target: Path, tmp_path: Path) -> None:
    incident = tmp_path / "INC"
    before = tree_hash(target)
    plan = make_plan(target, "INC", "test", actions(), incident)
    assert tree_hash(target) == before
    loaded = load_plan(incident, plan.sha256[:12])
    assert loaded.sha256 == plan.sha256
    records: list[dict[str, Any]] = []
    report = apply_plan(loaded, context_for(target, incident), records.append)
    assert report.ok and len(report.checks) == 3
    assert "use_unified_env = false" in (target / "config.ini").read_text()
    assert [r["event"] for r in records][:3] == ["begin", "intent", "outcome"]
    undo_plan(loaded, context_for(target, incident), records.append)
    assert tree_hash(target) == before
    assert find_interrupted(records) is None


def test_stale_plan_is_refused_and_nothing_changes(target: Path, tmp_path: Path) -> None:
    incident = tmp_path / "INC"
    plan = make_plan(target, "INC", "test", actions(), incident)
    (target / "config.ini").write_text(CONFIG + "# edited by someone\n")
    before = tree_hash(target)
    with pytest.raises(StalePlanError, match=r"config\.ini \(changed since the plan\)"):
        apply_plan(plan, context_for(target, incident), lambda r: None)
    assert tree_hash(target) == before


def test_applying_twice_is_refused(target: Path, tmp_path: Path) -> None:
    incident = tmp_path / "INC"
    plan = make_plan(target, "INC", "test", actions(), incident)
    apply_plan(plan, context_for(target, incident), lambda r: None)
    with pytest.raises(InvalidInputError, match="already partly applied"):
        apply_plan(plan, context_for(target, incident), lambda r: None)


def test_dry_run_touches_nothing(target: Path, tmp_path: Path) -> None:
    incident = tmp_path / "INC"
    plan = make_plan(target, "INC", "test", actions(), incident)
    before = tree_hash(target)
    records: list[dict[str, Any]] = []
    report = apply_plan(plan, context_for(target, incident), records.append, dry_run=True)
    assert report.dry_run and len(report.steps_done) == 3
    assert tree_hash(target) == before and records == []


@pytest.mark.parametrize("crash_after", range(1, 7))
@pytest.mark.parametrize("revert", [False, True])
def test_resume_after_interruption(
    target: Path, tmp_path: Path, crash_after: int, revert: bool
) -> None:
    """Cut the journal after N records (as a crash would) with the files as they were then."""
    incident = tmp_path / "INC"
    before = tree_hash(target)
    plan = make_plan(target, "INC", "test", actions(), incident)
    records: list[dict[str, Any]] = []

    class Crash(Exception):
        pass

    def journal(record: dict[str, Any]) -> None:
        if len(records) == crash_after:
            raise Crash
        records.append(record)

    with pytest.raises(Crash):
        apply_plan(plan, context_for(target, incident), journal)
    assert find_interrupted(records) is not None
    resume(incident, context_for(target, incident), list(records), records.append, revert=revert)
    if revert:
        assert tree_hash(target) == before
    else:
        assert "use_unified_env = false" in (target / "config.ini").read_text()
        assert "_FORCE_LEGACY_ENV = True" in (target / "factory.py").read_text()
    assert find_interrupted(records) is None


def test_resume_without_interruption_is_refused(tmp_path: Path, target: Path) -> None:
    with pytest.raises(InvalidInputError, match="no interrupted operation"):
        resume(tmp_path / "INC", context_for(target, tmp_path / "INC"), [], lambda r: None)


def test_undo_refuses_to_overwrite_a_later_edit(target: Path, tmp_path: Path) -> None:
    incident = tmp_path / "INC"
    plan = make_plan(target, "INC", "test", actions(), incident)
    apply_plan(plan, context_for(target, incident), lambda r: None)
    (target / "factory.py").write_text("_FORCE_LEGACY_ENV = True  # hotfix\n")
    with pytest.raises(WorkspaceError, match=r"factory\.py was changed after the rollback"):
        undo_plan(plan, context_for(target, incident), lambda r: None)
