"""``runbook verify``: run the verification checklist of an incident's target and keep the results.

Seed 003 Phase 5 ("System Verification") and seed 000 §8 ("Rollback
Verification Checklist") as one registry of named checks (:data:`REGISTRY`).
Each check returns a :class:`~runbook_lib.base.report.CheckResult`; the run is saved
atomically as ``<incident>/checks/verify-<UTC timestamp>.json`` and fails when a
blocking check fails.

What the checks expect depends on the rollback in effect, read from the
incident's journal (the strategy of the plan last applied and not undone):
after ``sac-full`` the service must run the stable package with the stable
model and the workspace must hold the backup's files; otherwise the release's.
``expect`` overrides that. ``factory_resolution`` proves that the legacy env
is selected, so it runs only while a seed 000 rollback is in effect.

The env checks live in :mod:`runbook_lib.verify.checks.env`, imported only when one
runs; if it cannot be imported the check is a ``skip`` with the reason.
"""

from __future__ import annotations

import importlib
import json
import traceback
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from runbook_lib.base.errors import InvalidInputError
from runbook_lib.base.fsutil import atomic_write_text
from runbook_lib.base.report import CheckResult, timed
from runbook_lib.evidence.layout import CHECKS_DIR
from runbook_lib.incident.store import incident_dir, load_incident
from runbook_lib.rollback.lock import TargetLock
from runbook_lib.target.manifest import Manifest, load_manifest

Expect = Literal["stable", "release"]
EXPECT_CHOICES = ("auto", "stable", "release")
STABLE_STRATEGIES = ("sac-full", "sac-code", "sac-deploy", "sac-data")
"""Strategies after which the stable release (package, model, config) is expected."""
# Not "code": it pins one call site, the factory still builds the new env for the rest.
LEGACY_ENV_STRATEGIES = ("env-var", "config", "force", "now")
"""Strategies after which the factory must build the legacy env."""
ENV_MODULE = "runbook_lib.verify.checks.env"
LEGACY_ONLY_AFTER_ROLLBACK = ("determinism",)


@dataclass(frozen=True)
class VerifyContext:
    """What every check of one run may need."""

    manifest: Manifest
    expect: Expect
    checks_dir: Path
    stamp: str
    strategy: str | None = None

    @property
    def expected_version(self) -> str | None:
        """The package version the service must report."""
        package = self.manifest.package
        if package is None:
            return None
        return package.stable_version if self.expect == "stable" else package.release_version

    def expected_model_sha256(self) -> str | None:
        """After a rollback: the sha256 of the one backed-up model (``None`` if not exactly one)."""
        if self.expect != "stable":
            return None
        from runbook_lib.verify.checks.integrity import stable_models

        hashes = set(stable_models(self.manifest).values())
        return hashes.pop() if len(hashes) == 1 else None


CheckRunner = Callable[[VerifyContext], CheckResult]


@dataclass(frozen=True)
class RegisteredCheck:
    """A check ``runbook verify`` can run by name."""

    name: str
    description: str
    run: CheckRunner
    needs_service: bool = False
    legacy_env_only: bool = False
    # Runs in a process of its own and changes nothing the other checks read: it may
    # run on the second core beside them (the target's tests take seconds).
    beside: bool = False


def _integrity(ctx: VerifyContext) -> CheckResult:
    from runbook_lib.verify.checks.integrity import check_integrity

    return check_integrity(ctx.manifest, expect_restored=ctx.expect == "stable")


def _config(ctx: VerifyContext) -> CheckResult:
    from runbook_lib.verify.checks.config import check_config

    return check_config(ctx.manifest)


def _models(ctx: VerifyContext) -> CheckResult:
    from runbook_lib.verify.checks.models import check_models

    return check_models(ctx.manifest)


def _target_tests(ctx: VerifyContext) -> CheckResult:
    from runbook_lib.verify.checks.target_tests import check_target_tests

    return check_target_tests(ctx.manifest, junit_path=ctx.checks_dir / f"junit-{ctx.stamp}.xml")


def _trading(ctx: VerifyContext) -> CheckResult:
    from runbook_lib.verify.checks.trading import check_trading

    return check_trading(ctx.manifest)


def _health(ctx: VerifyContext) -> CheckResult:
    from runbook_lib.verify.checks.service import check_service_health

    return check_service_health(ctx.manifest, expected_version=ctx.expected_version,
                                expected_model_sha256=ctx.expected_model_sha256())  # fmt: skip


def _performance(ctx: VerifyContext) -> CheckResult:
    from runbook_lib.verify.checks.performance import check_service_performance

    return check_service_performance(ctx.manifest)


def env_check(name: str, function: str) -> CheckRunner:
    """A runner that imports ``function`` from :data:`ENV_MODULE` when it runs (skip if absent)."""

    def run(ctx: VerifyContext) -> CheckResult:
        try:
            check: Callable[..., CheckResult] = getattr(
                importlib.import_module(ENV_MODULE), function
            )
        except Exception as err:  # a module being written, or missing: the check cannot run
            why = f"{ENV_MODULE}.{function} is not available: {type(err).__name__}: {err}"
            return CheckResult(f"env.{name}", "skip", why, blocking=False)
        if name in LEGACY_ONLY_AFTER_ROLLBACK and ctx.strategy in LEGACY_ENV_STRATEGIES:
            # After an env rollback every process uses the legacy env: prove that
            # one, not the candidate the incident is about (it may still crash).
            return check(ctx.manifest, ("legacy",))
        return check(ctx.manifest)

    return run


_ENV_CHECKS = (
    ("check_env", "check_env_api", "gymnasium's check_env on the legacy and unified envs"),
    ("factory_resolution", "check_factory_resolution",
     "the factory builds the legacy env under the rollback, and logs it"),
    ("determinism", "check_determinism", "same seed and actions give identical trajectories"),
    ("training_smoke", "check_training_smoke", "a short training run completes on the env"),
    ("monitoring", "check_monitoring", "seed 000 §6 monitoring callback during a short learn"),
)  # fmt: skip

REGISTRY: dict[str, RegisteredCheck] = {
    check.name: check
    for check in (
        RegisteredCheck("integrity", "the backup verifies; the workspace holds its files",
                        _integrity),
        RegisteredCheck("config", "the target's config validator accepts the config", _config),
        RegisteredCheck("models", "models load with SB3, fit the env, match the backup", _models),
        RegisteredCheck("target-tests", "the target's own tests pass (JUnit per test)",
                        _target_tests, beside=True),
        RegisteredCheck("trading", "return, Sharpe, drawdown, costs within bounds of stable",
                        _trading),
        RegisteredCheck("service.health", "/health ok with the expected version and model",
                        _health, needs_service=True),
        RegisteredCheck("service.performance", "CPU, memory, /predict latency and errors",
                        _performance, needs_service=True),
        *(RegisteredCheck(name, text, env_check(name, function),
                          legacy_env_only=name == "factory_resolution")
          for name, function, text in _ENV_CHECKS),
    )
}  # fmt: skip
"""Every check ``runbook verify`` knows, in the order it runs them."""


def select_checks(names: Sequence[str] | None) -> list[RegisteredCheck]:
    """The registered checks named (all when ``names`` is empty), in registry order.

    Raises:
        InvalidInputError: a name is not registered; the message lists the names.
    """
    if not names:
        return list(REGISTRY.values())
    unknown = [name for name in names if name not in REGISTRY]
    if unknown:
        raise InvalidInputError(f"unknown check(s): {', '.join(unknown)}",
                                hint=f"choose from: {', '.join(REGISTRY)}")  # fmt: skip
    return [check for name, check in REGISTRY.items() if name in names]


def rollback_in_effect(directory: Path) -> str | None:
    """The strategy of the incident's plan that is applied now (``None``: none is).

    That is the plan of the journal's last completed operation when it was an
    ``apply`` that was not cut short.
    """
    from runbook_lib.incident.journal import Journal
    from runbook_lib.rollback.plans import load_plan

    records = list(Journal.for_incident(directory).read().records)
    ends = [r for r in records if r.get("event") == "end"]
    if not ends or ends[-1].get("operation") != "apply" or ends[-1].get("interrupted"):
        return None
    return load_plan(directory, str(ends[-1]["plan"]), with_blobs=False).strategy


def resolve_expect(expect: str, strategy: str | None) -> Expect:
    """``stable`` or ``release``; ``auto`` means stable while ``sac-full`` is in effect.

    Raises:
        InvalidInputError: ``expect`` is not one of :data:`EXPECT_CHOICES`.
    """
    if expect == "stable" or (expect == "auto" and strategy in STABLE_STRATEGIES):
        return "stable"
    if expect in ("release", "auto"):
        return "release"
    raise InvalidInputError(f"unknown expectation {expect!r}",
                            hint=f"one of: {', '.join(EXPECT_CHOICES)}")  # fmt: skip


@dataclass(frozen=True)
class VerifyReport:
    """One ``runbook verify`` run."""

    incident: str
    target: str
    expect: Expect
    started_at: str
    results: tuple[CheckResult, ...]
    duration_s: float
    path: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def failed_blocking(self) -> list[str]:
        """Names of the blocking checks that failed."""
        return [r.name for r in self.results if r.status == "fail" and r.blocking]

    @property
    def ok(self) -> bool:
        """No blocking check failed."""
        return not self.failed_blocking

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (what is saved)."""
        from runbook_lib.verify.checks.targetproc import json_safe

        counts = {s: sum(r.status == s for r in self.results) for s in ("pass", "fail", "warn",
                                                                         "skip")}  # fmt: skip
        data: dict[str, Any] = json_safe({
            "incident": self.incident, "target": self.target, "expect": self.expect,
            "started_at": self.started_at, "duration_s": round(self.duration_s, 3),
            "ok": self.ok, "failed_blocking": self.failed_blocking, "counts": counts,
            "checks": [r.to_dict() for r in self.results],
            "path": str(self.path) if self.path else None, **self.extra,
        })  # fmt: skip
        return data


def _run_one(check: RegisteredCheck, ctx: VerifyContext) -> CheckResult:
    """Run a check; a crash of the check itself is a failed result, not an aborted run."""
    if check.legacy_env_only and ctx.strategy not in LEGACY_ENV_STRATEGIES:
        why = (f"proves a seed 000 rollback ({', '.join(LEGACY_ENV_STRATEGIES)}); the rollback "
               f"in effect is {ctx.strategy or 'none'}")  # fmt: skip
        return CheckResult(f"env.{check.name}", "skip", why, blocking=False)
    with timed() as elapsed:
        try:
            return check.run(ctx)
        except Exception as err:
            lines = traceback.format_exception(err)[-6:]
            return CheckResult(check.name, "fail", f"the check crashed: {type(err).__name__}: "
                               f"{err}", {"traceback": "".join(lines)}, elapsed())  # fmt: skip


def _run_checks(selected: Sequence[RegisteredCheck], ctx: VerifyContext) -> list[CheckResult]:
    """Run the checks; results in ``selected`` order.

    Checks marked ``beside`` run in a second thread next to the other checks that do
    not need the service; the service's checks (which measure latency and CPU) run
    only after them, with the machine as quiet as before.
    """
    beside = [check for check in selected if check.beside]
    if not beside or len(selected) == 1:
        return [_run_one(check, ctx) for check in selected]
    done: dict[str, CheckResult] = {}
    with ThreadPoolExecutor(1, thread_name_prefix="runbook-check") as pool:
        futures = [(check.name, pool.submit(_run_one, check, ctx)) for check in beside]
        for check in selected:
            if not check.beside and not check.needs_service:
                done[check.name] = _run_one(check, ctx)
        done.update((name, future.result()) for name, future in futures)
    for check in selected:
        if check.needs_service:
            done[check.name] = _run_one(check, ctx)
    return [done[check.name] for check in selected]


def _save(report: VerifyReport, checks_dir: Path, stamp: str) -> VerifyReport:
    """Write the run (strict JSON, atomically) and return it with its path."""
    checks_dir.mkdir(parents=True, exist_ok=True)
    saved = replace(report, path=checks_dir / f"verify-{stamp}.json")
    # default=str: a check's odd value (a Path, say) must not lose the whole run.
    text = json.dumps(saved.to_dict(), indent=2, allow_nan=False, default=str) + "\n"
    atomic_write_text(checks_dir / f"verify-{stamp}.json", text)
    return saved


def run_verify(
    target: Path, archive: Path, incident_id: str, *, checks: Sequence[str] | None = None,
    expect: str = "auto", start_service: bool = False,
) -> VerifyReport:  # fmt: skip
    """Run the checklist on ``target`` for an incident, under the target's lock, and save it.

    Args:
        target: The target's root (or its ``runbook.toml``).
        archive: The archive holding the incident.
        incident_id: The incident the run belongs to.
        checks: Names from :data:`REGISTRY` (default: the checklist of the
            rollback in effect, :func:`runbook_lib.rollback.strategies.checklist`, or all).
        expect: ``auto``, ``stable`` or ``release`` (see the module docstring).
        start_service: Start the service first if a selected check needs it and
            it is not running (it is left running); otherwise those checks skip.

    Raises:
        InvalidInputError: bad manifest, incident, check name or expectation
            (before anything runs).
        LockHeldError: another runbook process is changing the target.
    """
    from runbook_lib.rollback.strategies import checklist

    select_checks(checks)  # unknown names are refused before anything is read
    manifest = load_manifest(target)
    incident = load_incident(archive, incident_id)
    directory = incident_dir(archive, incident.id)
    strategy = rollback_in_effect(directory)
    selected = select_checks(checks or checklist(strategy))
    resolved = resolve_expect(expect, strategy)
    now = datetime.now(UTC)
    stamp = now.strftime("%Y%m%dT%H%M%S%fZ")
    checks_dir = directory / CHECKS_DIR
    ctx = VerifyContext(manifest, resolved, checks_dir, stamp, strategy)
    results: list[CheckResult] = []
    with timed() as elapsed, TargetLock(manifest.root, incident=incident.id, command="verify"):
        checks_dir.mkdir(parents=True, exist_ok=True)
        if start_service and any(check.needs_service for check in selected):
            from runbook_lib.verify.checks.service import start_service as start

            results.append(start(manifest))
        results += _run_checks(selected, ctx)
    report = VerifyReport(incident.id, str(manifest.root), resolved,
                          now.isoformat(timespec="seconds"), tuple(results), elapsed(),
                          extra={"rollback_in_effect": strategy,
                                 "expected_version": ctx.expected_version,
                                 "expected_model_sha256": ctx.expected_model_sha256()})  # fmt: skip
    return _save(report, checks_dir, stamp)
