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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from runbook_lib.base.checknames import CheckName, parse_check_names
from runbook_lib.base.errors import InvalidInputError
from runbook_lib.base.report import CheckResult
from runbook_lib.target.manifest import Manifest

Expect = Literal["stable", "release"]
EXPECT_CHOICES = ("auto", "stable", "release")
STABLE_STRATEGIES = ("sac-full", "sac-code", "sac-deploy", "sac-data")
"""Strategies after which the stable release (package, model, config) is expected."""
# Not "code": it pins one call site, the factory still builds the new env for the rest.
LEGACY_ENV_STRATEGIES = ("env-var", "config", "force", "now")
"""Strategies after which the factory must build the legacy env."""
ROLLBACK_TESTS_STRATEGIES = (*LEGACY_ENV_STRATEGIES, "code")
"""Seed 000's env rollbacks: their checklist runs ``[tests] rollback_command`` (seed 000 §4's
rollback tests), the set that proves them, not the workspace's whole suite (seed 003 step 8)."""
ENV_MODULE = "runbook_lib.verify.checks.env"
LEGACY_ONLY_AFTER_ROLLBACK = (CheckName.DETERMINISM,)


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

    name: CheckName
    description: str
    run: CheckRunner
    needs_service: bool = False
    legacy_env_only: bool = False
    # Runs in a process of its own and changes nothing the other checks read: it may
    # run on the second core beside them (the target's tests take seconds).
    beside: bool = False
    # Rough seconds on an idle machine: of the ``beside`` checks, the longest starts first.
    expected_s: float = 0.0


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

    return check_target_tests(
        ctx.manifest,
        junit_path=ctx.checks_dir / f"junit-{ctx.stamp}.xml",
        rollback=ctx.strategy in ROLLBACK_TESTS_STRATEGIES,
    )


def _trading(ctx: VerifyContext) -> CheckResult:
    from runbook_lib.verify.checks.trading import check_trading

    return check_trading(ctx.manifest)


def _health(ctx: VerifyContext) -> CheckResult:
    from runbook_lib.verify.checks.service import check_service_health

    return check_service_health(
        ctx.manifest,
        expected_version=ctx.expected_version,
        expected_model_sha256=ctx.expected_model_sha256(),
    )


def _performance(ctx: VerifyContext) -> CheckResult:
    from runbook_lib.verify.checks.performance import check_service_performance

    return check_service_performance(ctx.manifest)


def env_check(name: CheckName, function: str) -> CheckRunner:
    """A runner that imports ``function`` from :data:`ENV_MODULE` when it runs (skip if absent)."""

    def run(ctx: VerifyContext) -> CheckResult:
        try:
            check: Callable[..., CheckResult] = getattr(
                importlib.import_module(ENV_MODULE), function
            )
        except Exception as err:  # a module being written, or missing: the check cannot run
            why = f"{ENV_MODULE}.{function} is not available: {type(err).__name__}: {err}"
            return CheckResult(name, "skip", why, blocking=False)
        if name in LEGACY_ONLY_AFTER_ROLLBACK and ctx.strategy in LEGACY_ENV_STRATEGIES:
            # After an env rollback every process uses the legacy env: prove that
            # one, not the candidate the incident is about (it may still crash).
            return check(ctx.manifest, ("legacy",))
        return check(ctx.manifest)

    return run


_ENV_CHECKS = (
    (CheckName.CHECK_ENV, "check_env_api", "gymnasium's check_env on the legacy and unified envs"),
    (
        CheckName.FACTORY_RESOLUTION,
        "check_factory_resolution",
        "the factory builds the legacy env under the rollback, and logs it",
    ),
    (
        CheckName.DETERMINISM,
        "check_determinism",
        "same seed and actions give identical trajectories",
    ),
    (
        CheckName.TRAINING_SMOKE,
        "check_training_smoke",
        "a short training run completes on the env",
    ),
    (
        CheckName.MONITORING,
        "check_monitoring",
        "seed 000 §6 monitoring callback during a short learn",
    ),
)

REGISTRY: dict[CheckName, RegisteredCheck] = {
    check.name: check
    for check in (
        RegisteredCheck(
            CheckName.INTEGRITY, "the backup verifies; the workspace holds its files", _integrity
        ),
        RegisteredCheck(
            CheckName.CONFIG, "the target's config validator accepts the config", _config
        ),
        RegisteredCheck(
            CheckName.MODELS, "models load with SB3, fit the env, match the backup", _models
        ),
        RegisteredCheck(
            CheckName.TARGET_TESTS,
            "the target's own tests pass (after an env rollback: its rollback tests)",
            _target_tests,
            beside=True,
            expected_s=3.0,
        ),
        RegisteredCheck(
            CheckName.TRADING, "return, Sharpe, drawdown, costs within bounds of stable", _trading
        ),
        RegisteredCheck(
            CheckName.SERVICE_HEALTH,
            "/health ok with the expected version and model",
            _health,
            needs_service=True,
        ),
        RegisteredCheck(
            CheckName.SERVICE_PERFORMANCE,
            "CPU, memory, /predict latency and errors",
            _performance,
            needs_service=True,
        ),
        *(
            RegisteredCheck(
                name,
                text,
                env_check(name, function),
                legacy_env_only=name is CheckName.FACTORY_RESOLUTION,
                # A PPO learn in a worker of its own (the longest check): the other core.
                beside=name is CheckName.MONITORING,
                expected_s=8.0 if name is CheckName.MONITORING else 0.0,
            )
            for name, function, text in _ENV_CHECKS
        ),
    )
}
"""Every check ``runbook verify`` knows, in the order it runs them."""


def select_checks(names: Sequence[str] | None) -> list[RegisteredCheck]:
    """The registered checks named (all when ``names`` is empty), in registry order.

    Old names are accepted (:func:`~runbook_lib.base.checknames.parse_check_name`,
    a deprecation note each on stderr).

    Raises:
        InvalidInputError: a name is not registered; the message lists the names.
    """
    if not names:
        return list(REGISTRY.values())
    chosen = set(parse_check_names(names))
    return [check for name, check in REGISTRY.items() if name in chosen]


def rollback_in_effect(directory: Path) -> str | None:
    """The strategy of the incident's rollback in effect (``None``: none is).

    See :func:`runbook_lib.rollback.in_effect.applied_rollback`.
    """
    from runbook_lib.rollback.in_effect import applied_rollback

    applied = applied_rollback(directory)
    return applied.strategy if applied is not None else None


def resolve_expect(expect: str, strategy: str | None) -> Expect:
    """``stable`` or ``release``; ``auto`` means stable while ``sac-full`` is in effect.

    Raises:
        InvalidInputError: ``expect`` is not one of :data:`EXPECT_CHOICES`.
    """
    if expect == "stable" or (expect == "auto" and strategy in STABLE_STRATEGIES):
        return "stable"
    if expect in ("release", "auto"):
        return "release"
    raise InvalidInputError(
        f"unknown expectation {expect!r}", hint=f"one of: {', '.join(EXPECT_CHOICES)}"
    )
