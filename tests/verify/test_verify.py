"""``runbook_lib.verify.registry``: the registry, the expectations, saved runs and blocking failures."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from runbook_lib.base.checknames import CheckName
from runbook_lib.base.errors import InvalidInputError
from runbook_lib.base.progress import StepProgress
from runbook_lib.base.report import CheckResult
from runbook_lib.incident.ref import IncidentRef
from runbook_lib.incident.store import incident_dir, open_incident
from runbook_lib.rollback.operations import apply_rollback, plan_rollback, undo_rollback
from runbook_lib.sandbox.defects import inject_defect
from runbook_lib.verify import registry as verify
from runbook_lib.verify.registry import (
    REGISTRY,
    RegisteredCheck,
    resolve_expect,
    rollback_in_effect,
    select_checks,
)
from runbook_lib.verify.runner import run_verify
from tests.svcutil import guarded_service


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    return tmp_path / "archive"


@pytest.fixture
def incident_id(archive: Path) -> str:
    return open_incident(archive, "SAC release misbehaves", "high", "deployment-failure").id


def test_registry_names_every_check_once() -> None:
    assert list(REGISTRY) == [
        "integrity",
        "config",
        "models",
        "target-tests",
        "trading",
        "service-health",
        "service-performance",
        "check-env",
        "factory-resolution",
        "determinism",
        "training-smoke",
        "monitoring",
    ]
    assert [c.name for c in REGISTRY.values() if c.needs_service] == [
        "service-health",
        "service-performance",
    ]


def test_select_checks_keeps_registry_order_and_refuses_unknown_names() -> None:
    assert [c.name for c in select_checks(["models", "config"])] == ["config", "models"]
    assert len(select_checks(None)) == len(REGISTRY)
    with pytest.raises(InvalidInputError, match=r"unknown check\(s\): modles") as info:
        select_checks(["modles", "config"])
    assert "choose from: integrity, config, models" in str(info.value)


def test_select_checks_takes_old_names_with_a_note(capsys: pytest.CaptureFixture[str]) -> None:
    chosen = select_checks(["check_env", "service.health", "config"])
    assert [c.name for c in chosen] == ["config", "service-health", "check-env"]
    assert capsys.readouterr().err.splitlines() == [
        "runbook: note: check name 'check_env' is deprecated; use 'check-env'",
        "runbook: note: check name 'service.health' is deprecated; use 'service-health'",
    ]
    with pytest.raises(InvalidInputError, match="unknown check"):
        select_checks(["service-start"])  # a step --start-service adds, not a choice


@pytest.mark.parametrize(
    ("expect", "strategy", "resolved"),
    [
        ("auto", None, "release"),
        ("auto", "env-var", "release"),
        ("auto", "sac-full", "stable"),
        ("stable", None, "stable"),
        ("release", "sac-full", "release"),
    ],
)
def test_resolve_expect(expect: str, strategy: str | None, resolved: str) -> None:
    assert resolve_expect(expect, strategy) == resolved


def test_resolve_expect_refuses_other_words() -> None:
    with pytest.raises(InvalidInputError, match="unknown expectation 'latest'"):
        resolve_expect("latest", "opened")


def test_a_passing_run_is_saved_as_strict_json(
    fresh_sandbox: Path, archive: Path, incident_id: str
) -> None:
    report = run_verify(
        IncidentRef(fresh_sandbox, archive, incident_id), checks=["integrity", "config"]
    )
    assert report.ok and report.expect == "release"
    assert [r.name for r in report.results] == ["integrity", "config"]
    assert (
        report.path is not None
        and report.path.parent == incident_dir(archive, incident_id) / "checks"
    )
    assert report.path.name.startswith("verify-") and report.path.suffix == ".json"
    saved = json.loads(
        report.path.read_text(), parse_constant=lambda c: pytest.fail(f"{c} in JSON")
    )
    assert saved["ok"] is True and saved["failed_blocking"] == []
    assert saved["counts"] == {"pass": 2, "fail": 0, "warn": 0, "skip": 0}
    assert saved["expected_version"] == "1.1.0" and saved["expected_model_sha256"] is None
    assert [c["name"] for c in saved["checks"]] == ["integrity", "config"]
    assert saved["path"] == str(report.path)
    assert not list(report.path.parent.glob(".*.tmp")), "no temporary file is left"


def test_a_blocking_failure_fails_the_run_and_is_recorded(
    fresh_sandbox: Path, archive: Path, incident_id: str
) -> None:
    inject_defect(fresh_sandbox, "config-out-of-range")
    report = run_verify(
        IncidentRef(fresh_sandbox, archive, incident_id), checks=["config", "integrity"]
    )
    assert not report.ok and report.failed_blocking == ["config"]
    assert report.path is not None
    saved = json.loads(report.path.read_text())
    assert saved["ok"] is False and saved["failed_blocking"] == ["config"]
    config = next(c for c in saved["checks"] if c["name"] == "config")
    assert "key 'env.transaction_cost' = 1.5 is out of range" in config["summary"]


def test_stable_expected_on_request(fresh_sandbox: Path, archive: Path, incident_id: str) -> None:
    report = run_verify(
        IncidentRef(fresh_sandbox, archive, incident_id), checks=["integrity"], expect="stable"
    )
    # Nothing was restored in this workspace: the stable expectation makes integrity fail.
    assert report.expect == "stable" and report.failed_blocking == ["integrity"]
    assert report.extra["expected_version"] == "1.0.0"
    assert report.extra["expected_model_sha256"] is not None


def test_the_journal_tells_which_rollback_is_in_effect(
    fresh_sandbox: Path, archive: Path, incident_id: str
) -> None:
    directory = incident_dir(archive, incident_id)
    report = run_verify(
        IncidentRef(fresh_sandbox, archive, incident_id), checks=["factory-resolution"]
    )
    assert report.extra["rollback_in_effect"] is None and report.expect == "release"
    gate = report.results[0]
    assert (gate.name, gate.status, gate.blocking) == ("factory-resolution", "skip", False)
    assert gate.summary.endswith("the rollback in effect is none")
    plan = plan_rollback(IncidentRef(fresh_sandbox, archive, incident_id), "env-var")
    apply_rollback(IncidentRef(fresh_sandbox, archive, incident_id), plan.sha256)
    assert rollback_in_effect(directory) == "env-var"
    report = run_verify(
        IncidentRef(fresh_sandbox, archive, incident_id), checks=["factory-resolution"]
    )
    assert report.expect == "release", "an env rollback leaves the SAC release in place"
    assert "rollback in effect" not in report.results[0].summary, "the check ran"
    undo_rollback(IncidentRef(fresh_sandbox, archive, incident_id))
    assert rollback_in_effect(directory) is None


def test_code_level_rollback_does_not_claim_the_factory(
    fresh_sandbox: Path, archive: Path, incident_id: str
) -> None:
    plan = plan_rollback(IncidentRef(fresh_sandbox, archive, incident_id), "code")
    apply_rollback(IncidentRef(fresh_sandbox, archive, incident_id), plan.sha256)
    report = run_verify(
        IncidentRef(fresh_sandbox, archive, incident_id), checks=["factory-resolution", "config"]
    )
    assert report.ok and report.results[1].status == "skip"
    assert report.results[1].summary.endswith("the rollback in effect is code")


def test_without_names_the_checklist_of_the_rollback_in_effect_runs(
    fresh_sandbox: Path, archive: Path, incident_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from runbook_lib.rollback import strategies

    monkeypatch.setitem(strategies.CHECKLISTS, "env-var", (CheckName.CONFIG, CheckName.INTEGRITY))
    plan = plan_rollback(IncidentRef(fresh_sandbox, archive, incident_id), "env-var")
    apply_rollback(IncidentRef(fresh_sandbox, archive, incident_id), plan.sha256)
    report = run_verify(IncidentRef(fresh_sandbox, archive, incident_id))
    assert [r.name for r in report.results] == ["integrity", "config"]


@pytest.mark.slow
def test_service_checks_skip_unless_asked_to_start_it(
    fresh_sandbox: Path, archive: Path, incident_id: str
) -> None:
    names = ["service-health", "service-performance"]
    report = run_verify(IncidentRef(fresh_sandbox, archive, incident_id), checks=names)
    assert report.ok and [r.status for r in report.results] == ["skip", "skip"]
    with guarded_service(fresh_sandbox, start=False) as guard:
        report = run_verify(
            IncidentRef(fresh_sandbox, archive, incident_id), checks=names, start_service=True
        )
        pid = guard.current_pid()
        assert pid is not None, "--start-service leaves the service running"
        assert [(r.name, r.status) for r in report.results] == [
            ("service-start", "pass"),
            ("service-health", "pass"),
            ("service-performance", "pass"),
        ]
        assert report.results[0].summary == f"started trade-agent (pid {pid}), healthy"


def test_env_checks_skip_when_their_module_cannot_be_imported(
    fresh_sandbox: Path, archive: Path, incident_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(verify, "ENV_MODULE", "runbook_lib.verify.checks.no_such_module")
    report = run_verify(
        IncidentRef(fresh_sandbox, archive, incident_id), checks=["determinism", "monitoring"]
    )
    assert report.ok
    for result, name in zip(report.results, ("determinism", "monitoring"), strict=True):
        assert (result.name, result.status, result.blocking) == (name, "skip", False)
        assert "ModuleNotFoundError" in result.summary


def test_a_crashing_check_is_a_failure_not_an_abort(
    fresh_sandbox: Path, archive: Path, incident_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(ctx: verify.VerifyContext) -> CheckResult:
        raise RuntimeError("probe went away")

    monkeypatch.setitem(
        REGISTRY, CheckName.CONFIG, RegisteredCheck(CheckName.CONFIG, "boom", explode)
    )
    report = run_verify(
        IncidentRef(fresh_sandbox, archive, incident_id), checks=["config", "integrity"]
    )
    assert [(r.name, r.status) for r in report.results] == [
        ("integrity", "pass"),
        ("config", "fail"),
    ]
    assert report.results[1].summary == "the check crashed: RuntimeError: probe went away"
    assert "probe went away" in report.results[1].evidence["traceback"]


def test_bad_input_is_refused_before_anything_runs(
    fresh_sandbox: Path, archive: Path, incident_id: str
) -> None:
    with pytest.raises(InvalidInputError, match="unknown check"):
        run_verify(IncidentRef(fresh_sandbox, archive, incident_id), checks=["nope"])
    with pytest.raises(InvalidInputError, match="is not an incident ID"):
        run_verify(IncidentRef(fresh_sandbox, archive, "../x"), checks=["config"])
    with pytest.raises(InvalidInputError, match="unknown expectation"):
        run_verify(
            IncidentRef(fresh_sandbox, archive, incident_id), checks=["config"], expect="newest"
        )
    assert not (incident_dir(archive, incident_id) / "checks").exists()


def _recording(name: CheckName, log: list[tuple[str, str]], **options: object) -> RegisteredCheck:
    import threading

    def run(ctx: verify.VerifyContext) -> CheckResult:
        log.append((str(name), threading.current_thread().name))
        return CheckResult(name, "pass", "ran")

    return RegisteredCheck(name, "recording", run, **options)  # type: ignore[arg-type]


def test_beside_checks_run_longest_first_and_none_waits_for_a_busy_thread(
    fresh_sandbox: Path, tmp_path: Path
) -> None:
    import threading

    from runbook_lib.target.manifest import load_manifest
    from runbook_lib.verify.runner import _run_checks

    release = threading.Event()
    log: list[tuple[str, str]] = []

    def long_one(ctx: verify.VerifyContext) -> CheckResult:
        log.append(("monitoring", threading.current_thread().name))
        assert release.wait(60)  # busy until the short checks are all done
        return CheckResult(CheckName.MONITORING, "pass", "ran")

    checks = [
        _recording(CheckName.TARGET_TESTS, log, beside=True, expected_s=1.0),
        _recording(CheckName.CONFIG, log),
        RegisteredCheck(CheckName.MONITORING, "long", long_one, beside=True, expected_s=9.0),
    ]
    ctx = verify.VerifyContext(load_manifest(fresh_sandbox), "release", tmp_path, "stamp")
    threading.Timer(2.0, release.set).start()
    out = io.StringIO()
    results = _run_checks(checks, ctx, StepProgress.for_stream(out))
    assert [r.name for r in results] == ["target-tests", "config", "monitoring"]  # as selected
    # Progress counts each check as it ends, whichever thread ran it: the long one last.
    told = [line.split(" (")[0] for line in out.getvalue().splitlines()]
    assert told == [
        "1/3: config: pass",
        "2/3: target-tests: pass",
        "3/3: monitoring: pass",
    ]
    threads = dict(log)
    assert threads["monitoring"].startswith("runbook-check")  # the longest went beside first
    # The main thread did not wait for the busy one: it ran the beside check not yet started.
    assert threads["target-tests"] == threads["config"] == threading.current_thread().name


@pytest.mark.parametrize(
    ("strategy", "rollback"),
    [("code", True), ("env-var", True), ("sac-full", False), (None, False)],
)
def test_an_env_rollback_runs_the_targets_rollback_tests(
    strategy: str | None, rollback: bool, fresh_sandbox: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from runbook_lib.target.manifest import load_manifest
    from runbook_lib.verify.checks import target_tests

    asked: list[bool] = []

    def fake(manifest: object, *, junit_path: Path, rollback: bool = False) -> CheckResult:
        asked.append(rollback)
        return CheckResult(CheckName.TARGET_TESTS, "pass", "ran")

    monkeypatch.setattr(target_tests, "check_target_tests", fake)
    ctx = verify.VerifyContext(
        load_manifest(fresh_sandbox), "release", fresh_sandbox, "s", strategy=strategy
    )
    REGISTRY[CheckName.TARGET_TESTS].run(ctx)
    assert asked == [rollback]
