"""Rollback readiness (seed 000 §4: "Before rollback is needed, verify rollback works").

:func:`rehearse` takes a temporary git worktree of the target at HEAD
(:mod:`.rehearsal`) and, for every env strategy the manifest declares, plans,
applies, proves the effect (:mod:`.checks.effect`), runs the target's rollback
tests (``[tests] rollback_command``), undoes, and proves the worktree
byte-identical to before. The user's working tree is never touched; its hash
before and after is part of the report. An apply that raises is reverted from
the journal (``rollback resume --revert``) before the worktree is compared.

The strategies that stop and start the service run the copy's own service: its
pidfile and state file are the manifest's relative paths inside the copy, and
its port a free loopback port chosen at run time, given to the command's
``{port}`` (the plan records it). A service whose port cannot be moved (no
``{port}`` in ``[service] command``, or a systemd unit) is "not rehearsed",
with that reason: the real service is never stopped, started or probed.

The rehearsal runs in an incident of its own, opened for it: its plans and
journal hold rollbacks that were applied and undone on purpose, which must
never mix with a real incident's (``rollback undo`` takes the last applied
plan). With ``--incident ID`` the matrix is also recorded into that incident.
The rollback operations are called through their public functions.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

from runbook_lib.base.errors import CheckFailedError, InvalidInputError, RunbookError
from runbook_lib.base.progress import StepProgress
from runbook_lib.base.report import CheckResult
from runbook_lib.evidence.amend import seal_changes
from runbook_lib.evidence.seal import now_iso
from runbook_lib.incident.ref import IncidentRef
from runbook_lib.incident.store import incident_dir, load_incident, open_incident
from runbook_lib.rollback import operations
from runbook_lib.rollback.honoured import NotHonouredError
from runbook_lib.rollback.strategies import STRATEGIES, Strategy, build_actions
from runbook_lib.target.health import free_loopback_port
from runbook_lib.target.interpreter import target_interpreter
from runbook_lib.target.manifest import Manifest, load_manifest
from runbook_lib.target.specs import ServiceSpec
from runbook_lib.verify.checks.effect import NAME as EFFECT
from runbook_lib.verify.checks.effect import check_code_restored, check_effect
from runbook_lib.verify.checks.service import check_service_health
from runbook_lib.verify.checks.target_tests import check_target_tests
from runbook_lib.verify.readiness_matrix import (
    Cell,
    CellStatus,
    Phase,
    ReadinessReport,
    StrategyRow,
    record_readiness,
)
from runbook_lib.verify.rehearsal import TreeState, rehearsal_worktree, tree_state

# The strategies that stop and start the service: the copy runs its own, on a free
# loopback port given through the command's '{port}', with its pidfile and state in
# the copy (the manifest's paths are relative to the root), so the real one is untouched.
WITH_SERVICE = frozenset({Strategy.SAC_FULL, Strategy.SAC_DEPLOY, Strategy.SAC_DATA})

Progress = StepProgress | None


def declared_strategies(manifest: Manifest) -> tuple[list[str], dict[str, str]]:
    """The strategies the manifest can express, and why each other one cannot be."""
    declared: list[str] = []
    missing: dict[str, str] = {}
    for strategy in STRATEGIES:
        try:
            build_actions(strategy, manifest, "readiness")
        except NotHonouredError:
            declared.append(strategy)  # declared, and refused: its plan cell says why
        except InvalidInputError as exc:
            missing[strategy] = exc.message
        else:
            declared.append(strategy)
    return declared, missing


def _fail(row: StrategyRow, phase: Phase, reason: str) -> None:
    row.cells[phase] = Cell(CellStatus.FAIL, reason)


def _passed(row: StrategyRow, phase: Phase, summary: str = "") -> None:
    row.cells[phase] = Cell(CellStatus.PASS, summary)


class _Rehearsal:
    """One worktree, one rehearsal incident, and the strategies rehearsed in turn."""

    def __init__(self, root: Path, archive: Path, incident: str) -> None:
        self.root = root
        self.archive = archive
        self.incident = incident
        self.ref = IncidentRef(root, archive, incident)
        self.manifest = load_manifest(root)
        self.python = str(target_interpreter(self.manifest).path)
        self.service, self.fixed = _relocated(self.manifest.service)

    def run(self, strategy: str) -> tuple[StrategyRow, bool]:
        """The strategy's row, and whether the worktree is as before (the next may run)."""
        row = StrategyRow(strategy)
        before = tree_state(self.root)
        applied = self._plan_and_apply(row)
        if applied:
            self._effect_and_tests(row)
            self._undo(row)
        after = tree_state(self.root)
        return row, self._identical(row, before, after, applied)

    def _plan_and_apply(self, row: StrategyRow) -> bool:
        service = self.service if row.strategy in WITH_SERVICE else None
        try:
            plan = operations.plan_rollback(self.ref, row.strategy, service=service)
        except RunbookError as exc:
            _fail(row, Phase.PLAN, str(exc))
            return False
        _passed(row, Phase.PLAN, f"plan {plan.sha256[:12]}: {len(plan.steps)} step(s)")
        try:
            report = operations.apply_rollback(self.ref, plan.sha256)
        except RunbookError as exc:
            _fail(row, Phase.APPLY, str(exc))
            self._revert(row)
            return False
        failed = [check for check in report.checks if not check.ok]
        if failed:
            _fail(row, Phase.APPLY, f"{failed[0].name}: {failed[0].summary}")
        else:
            _passed(row, Phase.APPLY, f"{len(report.steps_done)} step(s) applied")
        return True

    def _revert(self, row: StrategyRow) -> None:
        """Take back the steps of an apply that raised (the journal shows where it stopped)."""
        try:
            operations.resume_rollback(self.ref, revert=True)
        except RunbookError as exc:
            _fail(row, Phase.UNDO, f"reverting the failed apply failed: {exc}")

    def _effect(self, strategy: str) -> CheckResult:
        if strategy == Strategy.SAC_CODE:
            return check_code_restored(self.manifest)
        if strategy not in WITH_SERVICE:
            return check_effect(self.manifest, strategy)
        if strategy == Strategy.SAC_FULL:
            code = check_code_restored(self.manifest)
            if not code.ok:
                return code
        return self._service_effect(strategy)

    def _service_effect(self, strategy: str) -> CheckResult:
        """The copy's service answers on its own port, at the stable version after a downgrade."""
        if self.service is None:
            return CheckResult(EFFECT, "pass", "runbook.toml has no [service] to restart")
        package = self.manifest.package
        expected = package.stable_version if package and strategy != Strategy.SAC_DATA else None
        manifest = self.manifest._replace(service=self.service)
        health = check_service_health(manifest, expected_version=expected)
        port = health.evidence.get("status", {}).get("port")
        if health.ok and port != self.service.port:
            summary = f"the copy's service listens on {port}, not its own {self.service.port}"
            return CheckResult(EFFECT, "fail", summary, health.evidence)
        summary = f"copy on its own port {self.service.port}: {health.summary}"
        return CheckResult(EFFECT, health.status, summary, health.evidence)

    def _effect_and_tests(self, row: StrategyRow) -> None:
        effect = self._effect(row.strategy)
        if effect.ok:
            _passed(row, Phase.EFFECT, effect.summary)
        else:
            _fail(row, Phase.EFFECT, effect.summary)
        if not self.manifest.rollback_test_command:
            _fail(row, Phase.TESTS, "runbook.toml has no [tests] command to prove the rollback")
            return
        tests = check_target_tests(self.manifest, rollback=True, python=self.python)
        if tests.status == "pass":
            _passed(row, Phase.TESTS, tests.summary)
        else:
            _fail(row, Phase.TESTS, tests.summary)

    def _undo(self, row: StrategyRow) -> None:
        try:
            operations.undo_rollback(self.ref)
        except RunbookError as exc:
            _fail(row, Phase.UNDO, str(exc))

    @staticmethod
    def _identical(row: StrategyRow, before: TreeState, after: TreeState, applied: bool) -> bool:
        difference = before.difference(after)
        if not applied:
            if Phase.APPLY not in row.cells or Phase.UNDO in row.cells:
                return not difference  # never applied, or its revert failed (the cell says so)
            if difference:
                left = f"the failed apply, reverted, still left the worktree changed: {difference}"
                _fail(row, Phase.UNDO, left)
            else:
                _passed(
                    row, Phase.UNDO, f"failed apply reverted: byte-identical ({after.sha256[:12]})"
                )
            return not difference
        if Phase.UNDO in row.cells:
            return not difference
        if difference:
            _fail(row, Phase.UNDO, f"the worktree is not as before: {difference}")
        else:
            _passed(row, Phase.UNDO, f"byte-identical to before ({after.sha256[:12]})")
        return not difference


def _relocated(spec: ServiceSpec | None) -> tuple[ServiceSpec | None, str]:
    """The copy's service on a free loopback port, or why its port cannot be moved."""
    if spec is None:
        return None, ""
    if spec.adapter == "systemd":
        unit = spec.unit or spec.name
        return None, f"the service's port is fixed by the systemd unit {unit}"
    if not spec.relocatable:
        return None, (
            "the service's port is fixed by runbook.toml "
            "([service] command has no {port} for a copy's own port)"
        )
    return spec._replace(port=free_loopback_port()), ""


def _open_rehearsal_incident(archive: Path, manifest: Manifest, head: str) -> str:
    title = f"Rollback readiness rehearsal of {manifest.name} at {head[:12]}"
    incident = open_incident(archive, title, "low", "other")
    seal_changes(archive, incident_dir(archive, incident.id))
    return incident.id


@contextlib.contextmanager
def _step(progress: Progress, label: str) -> Iterator[list[str]]:
    outcome: list[str] = []
    if progress is None:
        yield outcome
        return
    with progress.step(label) as step:
        yield outcome
        step.outcome = outcome[0] if outcome else "done"


def rehearse(
    target: Path,
    archive: Path,
    *,
    incident: str | None = None,
    strategies: list[str] | None = None,
    progress: Progress = None,
    on_row: Callable[[StrategyRow], None] | None = None,
) -> ReadinessReport:
    """Rehearse every declared strategy in a worktree of HEAD; record and return the matrix.

    Args:
        target: The target's root (or its manifest).
        archive: The evidence archive.
        incident: Also record the matrix into this incident.
        strategies: Only these (default: every strategy the manifest declares).
        progress: One line per strategy (a live timer on a terminal).
        on_row: Called with each finished row.

    Raises:
        InvalidInputError: bad manifest, unknown incident or strategy, no git HEAD.
    """
    manifest = load_manifest(target)
    if incident is not None:
        load_incident(archive, incident)  # an unknown incident fails before anything runs
    declared, missing = declared_strategies(manifest)
    chosen = _chosen(strategies, declared, missing)
    target_interpreter(manifest)  # a [target] python that is missing fails before anything runs
    user_before = tree_state(manifest.root)
    with rehearsal_worktree(manifest) as worktree:
        rehearsal_id = _open_rehearsal_incident(archive, manifest, worktree.head)
        report = ReadinessReport(str(manifest.root), worktree.head, rehearsal_id)
        report.not_declared = {k: v for k, v in missing.items() if strategies is None}
        rehearsal = _Rehearsal(worktree.root, archive, rehearsal_id)
        clean = True
        for strategy in chosen:
            row, clean = _one(rehearsal, strategy, clean, progress)
            report.rows.append(row)
            if on_row is not None:
                on_row(row)
    user_after = tree_state(manifest.root)
    report.target_tree = {"before": user_before.sha256, "after": user_after.sha256}
    report.rehearsed_at = now_iso()
    data = report.to_dict()
    record_readiness(archive, incident_dir(archive, rehearsal_id), data)
    if incident is not None:
        record_readiness(archive, incident_dir(archive, incident), data)
    return report


def _chosen(asked: list[str] | None, declared: list[str], missing: dict[str, str]) -> list[str]:
    if asked is None:
        return declared
    for name in asked:
        if name in missing:
            raise InvalidInputError(f"strategy {name!r}: {missing[name]}")
        if name not in declared:
            raise InvalidInputError(
                f"unknown strategy {name!r}", hint=f"choose among: {', '.join(declared)}"
            )
    return list(asked)


def _one(
    rehearsal: _Rehearsal, strategy: str, clean: bool, progress: Progress
) -> tuple[StrategyRow, bool]:
    """The strategy's row, and whether the worktree is still as it was at the start."""
    if strategy in WITH_SERVICE and rehearsal.fixed:
        return StrategyRow(strategy, rehearsed=False, note=rehearsal.fixed), clean
    if not clean:
        row = StrategyRow(strategy)
        _fail(row, Phase.PLAN, "not rehearsed: an earlier strategy left the worktree changed")
        return row, clean
    with _step(progress, f"readiness: {strategy}") as outcome:
        row, clean = rehearsal.run(strategy)
        outcome.append(str(row.readiness) + (f" ({row.reason})" if row.reason else ""))
    return row, clean


def require_ready(report: ReadinessReport) -> None:
    """Raise when a declared strategy is not ready (a notebook's run then fails).

    Raises:
        CheckFailedError: naming each strategy that is not ready and why.
    """
    if not report.ready:
        names = ", ".join(f"{row.strategy} ({row.reason})" for row in report.not_ready)
        raise CheckFailedError(f"not ready: {names}")


def matrix_rows(report: ReadinessReport) -> list[dict[str, str]]:
    """The matrix as table rows: a strategy, each phase's mark or reason, the verdict."""
    rows = []
    for row in report.rows:
        cells = {}
        for phase in Phase:
            cell = row.cell(phase)
            cells[str(phase)] = cell.reason if cell.status == "fail" else str(cell.status)
        rows.append({"strategy": row.strategy, **cells, "verdict": str(row.readiness)})
    return rows
