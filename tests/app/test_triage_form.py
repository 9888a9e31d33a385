"""The triage form's rules without a browser: a stale plan cannot be applied, confirmations reset."""

from __future__ import annotations

import re
from pathlib import Path

from runbook_lib.app.triage import facts_from, triage
from runbook_lib.app.triage_form import FormRules, rollback_banner
from runbook_lib.incident.store import list_incidents
from runbook_lib.target.manifest import load_manifest


def test_rules_from_record_to_apply_to_undo(fresh_sandbox: Path, tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    rules = FormRules(load_manifest(fresh_sandbox), archive, None)
    rules.set_facts(facts_from(False, 33.0, None, 5.0, "unknown"))
    assert not list_incidents(archive) if archive.exists() else True  # nothing before Record
    session = rules.open_session("slow env", "high", "perf-regression")
    assert [i.title for i in list_incidents(archive)] == ["slow env"]
    result = triage(session, rules.facts)
    rules.recorded(result.plan_sha256, result.decision.strategy)
    assert not rules.can_apply()  # not confirmed yet
    rules.confirmed = True
    assert rules.can_apply()

    rules.set_facts(facts_from(False, 10.0, None, 5.0, "unknown"))  # the facts change
    assert not rules.confirmed
    assert "this plan is for code" in rules.stale_reason()
    rules.confirmed = True
    assert not rules.can_apply()  # a stale plan stays disabled even when confirmed

    rules.set_facts(facts_from(False, 33.0, None, 5.0, "unknown"))
    rules.confirmed = True
    assert rules.can_apply() and rules.stale_reason() == ""
    assert rules.apply().startswith("applied plan ")
    assert not rules.confirmed and not rules.can_apply()  # spent; a rollback is in effect
    banner = rollback_banner(session)
    assert banner.startswith("rollback in effect: code, plan ")
    assert re.search(r"since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$", banner), banner
    assert not rules.can_undo()
    rules.undo_confirmed = True
    assert rules.undo().startswith("reverted: ")
    assert rollback_banner(session) == "" and not rules.undo_confirmed
