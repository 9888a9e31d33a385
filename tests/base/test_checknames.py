"""The check-name vocabulary: one kebab-case name per check, the old names as aliases."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runbook_lib.base.checknames import (
    ALIASES,
    SELECTABLE,
    CheckName,
    parse_check_name,
    parse_check_names,
    record_check_name,
)
from runbook_lib.base.errors import InvalidInputError
from runbook_lib.rollback.strategies import CHECKLISTS
from runbook_lib.verify.registry import REGISTRY


def test_every_name_is_kebab_case() -> None:
    for name in CheckName:
        assert name.value == name.value.lower() and "_" not in name and "." not in name


def test_the_alias_table() -> None:
    assert {old: new.value for old, new in ALIASES.items()} == {
        "service.health": "service-health",
        "service.performance": "service-performance",
        "service.start": "service-start",
        "check_env": "check-env",
        "env.check_env": "check-env",
        "factory_resolution": "factory-resolution",
        "env.factory_resolution": "factory-resolution",
        "env.determinism": "determinism",
        "training_smoke": "training-smoke",
        "env.training_smoke": "training-smoke",
        "env.monitoring": "monitoring",
    }
    assert not set(ALIASES) & {name.value for name in CheckName}


def test_the_registry_and_the_checklists_use_the_vocabulary() -> None:
    assert tuple(REGISTRY) == SELECTABLE
    for names in CHECKLISTS.values():
        assert all(isinstance(name, CheckName) for name in names)


def test_an_old_name_maps_with_one_note(capsys: pytest.CaptureFixture[str]) -> None:
    assert parse_check_name("check_env") is CheckName.CHECK_ENV
    assert capsys.readouterr().err == (
        "runbook: note: check name 'check_env' is deprecated; use 'check-env'\n"
    )
    assert parse_check_name("check-env") is CheckName.CHECK_ENV
    assert parse_check_name("env.check_env", note=False) is CheckName.CHECK_ENV
    assert parse_check_name("nope") is None
    assert capsys.readouterr().err == ""


def test_old_check_records_read_in_the_new_names(capsys: pytest.CaptureFixture[str]) -> None:
    assert record_check_name("env.training_smoke") == "training-smoke"
    assert record_check_name("service.health") == "service-health"
    assert record_check_name("checksums.verify") == "checksums.verify"  # an action's check
    assert record_check_name(None) is None
    assert capsys.readouterr().err == ""


def test_unknown_names_are_one_error_listing_the_valid_ones() -> None:
    with pytest.raises(InvalidInputError) as info:
        parse_check_names(["config", "modles"])
    assert info.value.message == "unknown check(s): modles"
    assert info.value.hint == "choose from: " + ", ".join(SELECTABLE)


def test_an_old_archive_check_record_reads_in_the_new_names(tmp_path: Path) -> None:
    from runbook_lib.evidence.summary import _file_checks

    checks = tmp_path / "checks"
    checks.mkdir()
    old = {"checks": [{"name": "env.check_env", "status": "pass"}], "started_at": "x"}
    sealed = checks / "verify-20260101T000000000000Z.json"
    sealed.write_text(json.dumps(old), encoding="utf-8")
    before = sealed.read_bytes()
    assert [c["name"] for c in _file_checks(tmp_path, set())] == ["check-env"]
    assert sealed.read_bytes() == before, "the archived record is not rewritten"
