"""Records as NamedTuples: their plain form is what dataclasses.asdict gave."""

from __future__ import annotations

import json
from pathlib import Path
from types import MappingProxyType

from runbook_lib.base.records import is_record, plain
from runbook_lib.base.report import CheckResult
from runbook_lib.rollback.actions.envflags import ConfigFlagAction, EnvVarAction
from runbook_lib.rollback.actions.model import FileChange, Plan, Step
from runbook_lib.target.specs import ServiceSpec


def test_plain_turns_nested_records_into_dicts_and_copies_containers() -> None:
    evidence = {"files": [{"n": 1}], "where": ("a", "b")}
    result = CheckResult("x.verify", "pass", "ok", evidence)
    data = plain({"checks": [result], "spec": ServiceSpec("svc", "process", ("run",))})
    assert data["checks"][0]["evidence"] == evidence
    assert data["checks"][0]["evidence"] is not evidence
    assert data["checks"][0]["evidence"]["files"][0] is not evidence["files"][0]
    assert data["spec"]["command"] == ("run",) and data["spec"]["env"] == {}
    assert isinstance(data["spec"]["env"], dict)  # a read-only default becomes a plain dict
    json.dumps(data)  # JSON-ready


def test_is_record_tells_a_record_from_a_tuple() -> None:
    assert is_record(FileChange("a", None, "b", "s"))
    assert not is_record(("a", None, "b", "s"))


def test_defaults_are_shared_but_read_only() -> None:
    first, second = CheckResult("a", "pass", "ok"), CheckResult("b", "pass", "ok")
    assert first.evidence is second.evidence
    assert isinstance(first.evidence, MappingProxyType)


def test_a_step_never_shows_its_blobs() -> None:
    step = Step("env-var", "t", params={"a": 1}, blobs={"f" * 64: b"TOKEN=s3cr3t"})
    assert "s3cr3t" not in repr(step) and "blobs=<1>" in repr(step)
    assert "blobs" not in step.to_dict()


def test_a_plan_names_itself_once_and_a_changed_copy_anew(tmp_path: Path) -> None:
    plan = Plan("INC-1", "now", str(tmp_path), "2026-12-03T00:00:00+00:00", (Step("env-var", "t"),))
    assert plan.sha256 == plan.sha256
    moved = plan._replace(target=str(tmp_path / "other"))
    assert isinstance(moved, Plan) and moved.sha256 != plan.sha256


def test_actions_are_equal_by_type_and_parameters() -> None:
    assert EnvVarAction({"A": "0"}, note="n") == EnvVarAction({"A": "0"}, note="n")
    assert EnvVarAction({"A": "0"}) != EnvVarAction({"A": "1"})
    assert ConfigFlagAction("c.ini", "rl", "k", "v") != EnvVarAction({"A": "0"})
    assert repr(EnvVarAction({"A": "0"})) == "EnvVarAction({'variables': {'A': '0'}, 'note': ''})"
