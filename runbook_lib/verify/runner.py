"""Run the selected verification checks for an incident and save their report."""

from __future__ import annotations

import json
import traceback
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runbook_lib.base.fsutil import atomic_write_text
from runbook_lib.base.progress import NO_PROGRESS, ItemProgress
from runbook_lib.base.report import CheckResult, timed
from runbook_lib.evidence.layout import CHECKS_DIR
from runbook_lib.incident.store import incident_dir, load_incident
from runbook_lib.rollback.lock import TargetLock
from runbook_lib.target.manifest import load_manifest
from runbook_lib.verify.registry import (
    LEGACY_ENV_STRATEGIES,
    Expect,
    RegisteredCheck,
    VerifyContext,
    resolve_expect,
    rollback_in_effect,
    select_checks,
)

if TYPE_CHECKING:
    from runbook_lib.incident.ref import IncidentRef


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

        counts = {
            s: sum(r.status == s for r in self.results) for s in ("pass", "fail", "warn", "skip")
        }
        data: dict[str, Any] = json_safe(
            {
                "incident": self.incident,
                "target": self.target,
                "expect": self.expect,
                "started_at": self.started_at,
                "duration_s": round(self.duration_s, 3),
                "ok": self.ok,
                "failed_blocking": self.failed_blocking,
                "counts": counts,
                "checks": [r.to_dict() for r in self.results],
                "path": str(self.path) if self.path else None,
                **self.extra,
            }
        )
        return data


def _run_one(check: RegisteredCheck, ctx: VerifyContext) -> CheckResult:
    """Run a check; a crash of the check itself is a failed result, not an aborted run."""
    if check.legacy_env_only and ctx.strategy not in LEGACY_ENV_STRATEGIES:
        why = (
            f"proves a seed 000 rollback ({', '.join(LEGACY_ENV_STRATEGIES)}); the rollback "
            f"in effect is {ctx.strategy or 'none'}"
        )
        return CheckResult(check.name, "skip", why, blocking=False)
    with timed() as elapsed:
        try:
            return check.run(ctx)
        except Exception as err:
            lines = traceback.format_exception(err)[-6:]
            return CheckResult(
                check.name,
                "fail",
                f"the check crashed: {type(err).__name__}: {err}",
                {"traceback": "".join(lines)},
                elapsed(),
            )


def _told(
    progress: ItemProgress, total: int
) -> Callable[[RegisteredCheck, VerifyContext], CheckResult]:
    """:func:`_run_one` that tells ``progress`` each check's outcome as it finishes."""

    def run(check: RegisteredCheck, ctx: VerifyContext) -> CheckResult:
        result = _run_one(check, ctx)
        blocking = "" if result.blocking or result.status != "fail" else " (non-blocking)"
        progress.item_done(
            check.name, f"{result.status}{blocking} ({result.duration_s:.1f} s)", total=total
        )
        return result

    return run


def _run_checks(
    selected: Sequence[RegisteredCheck], ctx: VerifyContext, progress: ItemProgress = NO_PROGRESS
) -> list[CheckResult]:
    """Run the checks; results in ``selected`` order; ``progress`` is told as each one ends.

    Checks marked ``beside`` run in a second thread next to the other checks that do
    not need the service, the longest expected first; a ``beside`` check that thread
    has not started when the others are done runs in this one, so both cores work
    until the end. The service's checks (which measure latency and CPU) run only
    after them, with the machine as quiet as before.
    """
    run_one = _told(progress, len(selected))
    beside = sorted((c for c in selected if c.beside), key=lambda c: -c.expected_s)
    if not beside or len(selected) == 1:
        return [run_one(check, ctx) for check in selected]
    done: dict[str, CheckResult] = {}
    with ThreadPoolExecutor(1, thread_name_prefix="runbook-check") as pool:
        futures = [(check, pool.submit(run_one, check, ctx)) for check in beside]
        for check in selected:
            if not check.beside and not check.needs_service:
                done[check.name] = run_one(check, ctx)
        # Those not started yet run here rather than wait for the other thread.
        waiting = [(check, future) for check, future in futures if not future.cancel()]
        for check, future in futures:
            if future.cancelled():
                done[check.name] = run_one(check, ctx)
        done.update((check.name, future.result()) for check, future in waiting)
    for check in selected:
        if check.needs_service:
            done[check.name] = run_one(check, ctx)
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
    ref: IncidentRef,
    *,
    checks: Sequence[str] | None = None,
    expect: str = "auto",
    start_service: bool = False,
    progress: ItemProgress = NO_PROGRESS,
) -> VerifyReport:
    """Run the checklist on ``target`` for an incident, under the target's lock, and save it.

    Args:
        ref: The incident the run belongs to, its target and its archive.
        checks: Names from :data:`REGISTRY` (default: the checklist of the
            rollback in effect, :func:`runbook_lib.rollback.strategies.checklist`, or all).
        expect: ``auto``, ``stable`` or ``release`` (see the module docstring).
        start_service: Start the service first if a selected check needs it and
            it is not running (it is left running); otherwise those checks skip.
        progress: Told each check's name and outcome as it finishes.

    Raises:
        InvalidInputError: bad manifest, incident, check name or expectation
            (before anything runs).
        LockHeldError: another runbook process is changing the target.
    """
    from runbook_lib.rollback.strategies import checklist

    requested = select_checks(checks) if checks else None  # unknown names refused first
    manifest = load_manifest(ref.target)
    incident = load_incident(ref.archive, ref.id)
    directory = incident_dir(ref.archive, incident.id)
    strategy = rollback_in_effect(directory)
    selected = requested or select_checks(checklist(strategy))
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
        results += _run_checks(selected, ctx, progress)
    report = VerifyReport(
        incident.id,
        str(manifest.root),
        resolved,
        now.isoformat(timespec="seconds"),
        tuple(results),
        elapsed(),
        extra={
            "rollback_in_effect": strategy,
            "expected_version": ctx.expected_version,
            "expected_model_sha256": ctx.expected_model_sha256(),
        },
    )
    return _save(report, checks_dir, stamp)
