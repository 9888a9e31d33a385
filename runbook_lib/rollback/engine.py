"""Plan, apply, undo and resume a rollback, journaled and under the target's lock.

Every side effect is bracketed in the incident's journal: an ``intent`` record
(the step and its files' before/after hashes) is fsynced before the step runs
and an ``outcome`` record after. A crash (SIGKILL included) therefore leaves a
journal whose last intent has no outcome; :func:`resume` finds it and, since
every file is atomically in its before or its after state, completes the
interrupted operation (or, with ``revert=True``, takes it back).
"""

import sys
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

from runbook_lib.base import crashpoints
from runbook_lib.base.errors import InvalidInputError, StalePlanError, WorkspaceError
from runbook_lib.base.records import plain
from runbook_lib.base.report import CheckResult
from runbook_lib.incident.journal import Interrupted, JournalEvent, find_interrupted
from runbook_lib.rollback.actions.base import Action, Context
from runbook_lib.rollback.actions.files import state_of
from runbook_lib.rollback.actions.model import Plan, Step
from runbook_lib.rollback.actions.registry import action_for
from runbook_lib.rollback.plans import blob_store, load_plan, save_plan

Journal = Callable[[dict[str, Any]], None]


class OperationReport(NamedTuple):
    """What apply, undo or resume did (the engine fills its two lists as it goes)."""

    operation: str
    plan: str
    steps_done: list[str]
    checks: list[CheckResult]
    dry_run: bool = False

    @property
    def ok(self) -> bool:
        """True when every check passed."""
        return all(check.ok for check in self.checks)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        data: dict[str, Any] = plain(self)
        data["ok"] = self.ok
        return data


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def make_plan(
    root: Path,
    incident: str,
    strategy: str,
    actions: Sequence[Action],
    incident_dir: Path,
    *,
    labels: Mapping[str, str] | None = None,
) -> Plan:
    """Plan every action (touching nothing in the target) and save the plan.

    ``labels`` names, by action, the runbook step it carries out; a step's title
    starts with it, so the printed plan reads in the runbook's words.
    """
    steps = tuple(_labelled(action.plan(root), labels or {}) for action in actions)
    plan = Plan(
        incident=incident, strategy=strategy, target=str(root), created_at=_now(), steps=steps
    )
    save_plan(plan, incident_dir)
    return plan


def _labelled(step: Step, labels: Mapping[str, str]) -> Step:
    label = labels.get(step.action)
    return step._replace(title=f"{label}: {step.title}") if label else step


def context_for(root: Path, incident_dir: Path, env: dict[str, str] | None = None) -> Context:
    """The context actions of this incident run in."""
    return Context(
        root=root,
        incident_dir=incident_dir,
        store=blob_store(incident_dir),
        python=sys.executable,
        env=env or {},
    )


def _changes(step: Step) -> list[dict[str, Any]]:
    return [change._asdict() for change in step.changes]


def check_fresh(plan: Plan, root: Path) -> None:
    """Refuse a plan whose files moved since it was made.

    Raises:
        StalePlanError: a file is in neither its before nor its after state.
        InvalidInputError: the plan is already (partly) applied.
    """
    states = [(change, state_of(root, change)) for step in plan.steps for change in step.changes]
    stale = [f"{c.path} (changed since the plan)" for c, state in states if state == "other"]
    if stale:
        raise StalePlanError(
            f"the target changed since plan {plan.sha256[:12]} was made: {', '.join(stale[:5])}",
            hint="make a new plan with 'runbook rollback plan'",
        )
    applied = [c.path for c, state in states if state == "after"]
    if applied:
        raise InvalidInputError(
            f"plan {plan.sha256[:12]} is already partly applied ({', '.join(applied[:3])})",
            hint="run 'runbook rollback resume' to finish it, or 'undo' to take it back",
        )


def _journaled(journal: Journal) -> Journal:
    def append(record: dict[str, Any]) -> None:
        crashpoints.reach(f"journal {record.get('event')}")
        journal(record)

    return append


def _run_step(
    plan: Plan, index: int, operation: str, ctx: Context, journal: Journal
) -> CheckResult | None:
    step = plan.steps[index]
    action = action_for(step)
    journal(
        {
            "event": JournalEvent.INTENT,
            "operation": operation,
            "plan": plan.sha256,
            "step": index,
            "action": step.action,
            "title": step.title,
            "changes": _changes(step),
        }
    )
    crashpoints.reach(f"{operation} step {index}")
    if operation == "apply":
        action.apply(step, ctx)
        result: CheckResult | None = action.verify(step, ctx)
    else:
        action.undo(step, ctx)
        result = None
    states = {c.path: state_of(ctx.root, c) for c in step.changes}
    journal(
        {
            "event": JournalEvent.OUTCOME,
            "operation": operation,
            "plan": plan.sha256,
            "step": index,
            "status": "done",
            "files": states,
            "check": result.to_dict() if result else None,
        }
    )
    return result


def apply_plan(
    plan: Plan, ctx: Context, journal: Journal, *, dry_run: bool = False
) -> OperationReport:
    """Apply every step in order; each step is verified right after it runs."""
    check_fresh(plan, ctx.root)
    if dry_run:
        return OperationReport(
            "apply", plan.sha256, [s.title for s in plan.steps], [], dry_run=True
        )
    return _apply_all(plan, ctx, _journaled(journal), "apply")


def _apply_all(plan: Plan, ctx: Context, journal: Journal, label: str) -> OperationReport:
    """Run every step forward (finished ones are no-ops), journaled as one ``apply``."""
    journal({"event": JournalEvent.BEGIN, "operation": "apply", "plan": plan.sha256})
    report = OperationReport(label, plan.sha256, [], [])
    for index, step in enumerate(plan.steps):
        result = _run_step(plan, index, "apply", ctx, journal)
        report.steps_done.append(step.title)
        if result is not None:
            report.checks.append(result)
    journal({"event": JournalEvent.END, "operation": "apply", "plan": plan.sha256, "ok": report.ok})
    return report


def undo_plan(
    plan: Plan, ctx: Context, journal: Journal, *, dry_run: bool = False, upto: int | None = None
) -> OperationReport:
    """Revert the steps in reverse order (all, or those before ``upto``)."""
    last = len(plan.steps) if upto is None else upto
    indices = list(reversed(range(last)))
    if dry_run:
        titles = [plan.steps[i].title for i in indices]
        return OperationReport("undo", plan.sha256, titles, [], dry_run=True)
    journal = _journaled(journal)
    journal({"event": JournalEvent.BEGIN, "operation": "undo", "plan": plan.sha256})
    report = OperationReport("undo", plan.sha256, [], [])
    for index in indices:
        _run_step(plan, index, "undo", ctx, journal)
        report.steps_done.append(plan.steps[index].title)
    journal({"event": JournalEvent.END, "operation": "undo", "plan": plan.sha256, "ok": True})
    return report


def resume(
    incident_dir: Path,
    ctx: Context,
    records: Sequence[dict[str, Any]],
    journal: Journal,
    *,
    revert: bool = False,
) -> OperationReport:
    """Finish (or, with ``revert``, take back) the interrupted operation.

    Raises:
        InvalidInputError: nothing was interrupted.
    """
    interrupted = find_interrupted(records)
    if interrupted is None:
        raise InvalidInputError(
            f"incident {incident_dir.name} has no interrupted operation",
            hint="nothing to resume; 'runbook rollback status' shows the journal",
        )
    plan = load_plan(incident_dir, interrupted.plan)
    journal(
        {
            "event": JournalEvent.RESUME,
            "operation": interrupted.operation,
            "plan": plan.sha256,
            "revert": revert,
            "interrupted_step": interrupted.last_intent,
        }
    )
    journal(
        {
            "event": JournalEvent.END,
            "operation": interrupted.operation,
            "plan": plan.sha256,
            "ok": False,
            "interrupted": True,
        }
    )
    forward = (interrupted.operation == "apply") != revert
    if forward:
        for step in plan.steps:
            for change in step.changes:
                if state_of(ctx.root, change) == "other":
                    raise WorkspaceError(f"{change.path} is in neither its planned state")
        return _resume_apply(plan, ctx, journal, interrupted)
    done = len(plan.steps)
    if interrupted.operation == "apply":
        done = (
            interrupted.last_intent
            if interrupted.last_intent is not None
            else max(interrupted.finished_steps, default=-1)
        ) + 1
    return undo_plan(plan, ctx, journal, upto=done)


def _resume_apply(
    plan: Plan, ctx: Context, journal: Journal, interrupted: Interrupted
) -> OperationReport:
    if interrupted.operation == "undo":
        # Finishing "undo in reverse" means undoing the remaining steps.
        return undo_plan(plan, ctx, journal)
    return _apply_all(plan, ctx, _journaled(journal), "resume")
