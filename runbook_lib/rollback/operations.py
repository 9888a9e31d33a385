"""Rollback operations on an incident: what the CLI and the notebooks call.

Each function checks its inputs before anything changes (manifest valid,
incident exists, plan intact and fresh), takes the target's lock for anything
that changes the target, journals every step, and moves the incident's state.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from runbook_lib.base.errors import InvalidInputError
from runbook_lib.evidence import index
from runbook_lib.evidence.amend import amending
from runbook_lib.incident.journal import Journal, JournalEvent, find_interrupted, last_completed
from runbook_lib.incident.model import Incident
from runbook_lib.incident.store import (
    advance_incident,
    incident_dir,
    list_incidents,
    load_incident,
    open_incident,
)
from runbook_lib.rollback.actions.base import Action
from runbook_lib.rollback.actions.model import Plan
from runbook_lib.rollback.engine import (
    OperationReport,
    apply_plan,
    context_for,
    make_plan,
    resume,
    undo_plan,
)
from runbook_lib.rollback.lock import TargetLock, lock_status
from runbook_lib.rollback.plans import load_plan
from runbook_lib.rollback.strategies import NOT_ROLLBACKS, Strategy, build_actions, step_labels
from runbook_lib.target.envfile import export_lines, read_rollback_env
from runbook_lib.target.manifest import Manifest, load_manifest
from runbook_lib.target.specs import ServiceSpec

if TYPE_CHECKING:
    from runbook_lib.incident.ref import IncidentRef


def _setup(ref: IncidentRef) -> tuple[Manifest, Incident, Path]:
    manifest = load_manifest(ref.target)
    incident = load_incident(ref.archive, ref.id)
    return manifest, incident, incident_dir(ref.archive, ref.id)


@contextlib.contextmanager
def _changing(manifest: Manifest, archive: Path, directory: Path, command: str) -> Iterator[None]:
    """The target's lock first (a second changer fails at once), then the incident's seal."""
    lock = TargetLock(manifest.root, incident=directory.name, command=command)
    with lock, amending(archive, directory):
        yield


def _advance(archive: Path, incident: Incident, state: str, note: str) -> None:
    current = load_incident(archive, incident.id)
    if current.state == "opened" and state != "assessed":
        advance_incident(archive, incident.id, "assessed", note="assessed by " + note)
    advance_incident(archive, incident.id, state, note=note)


def plan_rollback(ref: IncidentRef, strategy: str, *, service: ServiceSpec | None = None) -> Plan:
    """Compute and save the plan of ``strategy``; the target is not touched.

    ``service`` replaces the manifest's ``[service]`` in the plan's steps (a
    readiness rehearsal's copy of the service, on a port of its own).
    """
    manifest, incident, directory = _setup(ref)
    if service is not None:
        manifest = manifest._replace(service=service)
    actions = _actions(strategy, manifest, ref.archive, directory, incident)
    with amending(ref.archive, directory):
        return _save_plan(manifest, directory, incident, strategy, actions)


def _save_plan(
    manifest: Manifest,
    directory: Path,
    incident: Incident,
    strategy: str,
    actions: Sequence[Action],
) -> Plan:
    """Save the plan and journal it (under :func:`amending`)."""
    plan = make_plan(
        manifest.root, incident.id, strategy, actions, directory, labels=step_labels(strategy)
    )
    Journal.for_incident(directory)(
        {
            "event": JournalEvent.PLAN,
            "plan": plan.sha256,
            "strategy": strategy,
            "steps": [s.title for s in plan.steps],
        }
    )
    return plan


def _actions(
    strategy: str, manifest: Manifest, archive: Path, directory: Path, incident: Incident
) -> Sequence[Action]:
    """The plan's steps; the two strategies that roll nothing back are planned here."""
    if strategy == Strategy.INVESTIGATE:
        return []  # seed 000 §2: investigate before any rollback; the plan changes nothing
    if strategy == Strategy.DOCUMENT_DIFFERENCE:
        from runbook_lib.rollback.documenting import difference_actions

        return difference_actions(archive, directory, manifest.root, incident.id, incident.title)
    return build_actions(strategy, manifest, incident.id)


def _check_target(plan: Plan, manifest: Manifest) -> None:
    if Path(plan.target).resolve() != manifest.root.resolve():
        raise InvalidInputError(
            f"plan {plan.sha256[:12]} was made for {plan.target}, not {manifest.root}",
            hint="pass the plan's --target, or make a new plan for this target",
        )


def apply_rollback(ref: IncidentRef, plan_sha: str, *, dry_run: bool = False) -> OperationReport:
    """Apply a saved plan under the target's lock; the incident becomes ``rolled-back``."""
    manifest, incident, directory = _setup(ref)
    plan = load_plan(directory, plan_sha)
    _check_target(plan, manifest)
    with _changing(manifest, ref.archive, directory, "rollback apply"):
        return _apply(manifest, ref.archive, directory, incident, plan, dry_run=dry_run)


def _apply(
    manifest: Manifest,
    archive: Path,
    directory: Path,
    incident: Incident,
    plan: Plan,
    *,
    dry_run: bool,
) -> OperationReport:
    """Apply ``plan`` and move the incident (under :func:`_changing`)."""
    report = apply_plan(
        plan,
        context_for(manifest.root, directory),
        Journal.for_incident(directory),
        dry_run=dry_run,
    )
    if not dry_run and plan.strategy not in NOT_ROLLBACKS:
        _advance(archive, incident, "rolled-back", f"rollback apply {plan.sha256[:12]}")
    return report


def _applied_plan(directory: Path) -> str:
    """The last applied rollback plan (documenting plans are not rollbacks)."""
    records = list(Journal.for_incident(directory).read().records)
    for record in reversed(records):
        if record.get("event") != "end":
            continue
        plan = str(record.get("plan", ""))
        if load_plan(directory, plan, with_blobs=False).strategy in NOT_ROLLBACKS:
            continue
        if record.get("operation") == "apply" and not record.get("interrupted"):
            return plan
        break
    raise InvalidInputError(
        f"incident {directory.name} has no applied rollback to undo",
        hint="'runbook rollback status' shows the journal",
    )


def undo_rollback(ref: IncidentRef, *, dry_run: bool = False) -> OperationReport:
    """Revert the last applied plan in reverse order; the incident goes back to ``assessed``."""
    manifest, incident, directory = _setup(ref)
    archive = ref.archive
    plan = load_plan(directory, _applied_plan(directory))
    _check_target(plan, manifest)
    with _changing(manifest, archive, directory, "rollback undo"):
        report = undo_plan(
            plan,
            context_for(manifest.root, directory),
            Journal.for_incident(directory),
            dry_run=dry_run,
        )
        if not dry_run and load_incident(archive, incident.id).state == "rolled-back":
            advance_incident(archive, incident.id, "assessed", note="rollback undone")
    return report


def resume_rollback(ref: IncidentRef, *, revert: bool = False) -> OperationReport:
    """Complete (or revert) the operation a crash interrupted, from the journal."""
    manifest, incident, directory = _setup(ref)
    archive = ref.archive
    journal = Journal.for_incident(directory)
    with _changing(manifest, archive, directory, "rollback resume"):
        records = list(journal.read().records)
        report = resume(
            directory, context_for(manifest.root, directory), records, journal, revert=revert
        )
        state = load_incident(archive, incident.id).state
        if report.operation in {"apply", "resume"} and not revert and state != "rolled-back":
            _advance(archive, incident, "rolled-back", "rollback resume")
    return report


def rollback_status(ref: IncidentRef) -> dict[str, Any]:
    """The journal's story: plans, the last completed operation, anything interrupted."""
    manifest, incident, directory = _setup(ref)
    contents = Journal.for_incident(directory).read()
    records = list(contents.records)
    interrupted = find_interrupted(records)
    last = last_completed(records)
    return {
        "incident": incident.id,
        "state": incident.state,
        "target": str(manifest.root),
        "plans": [r["plan"] for r in records if r.get("event") == JournalEvent.PLAN],
        "last_completed": {"operation": last[0], "plan": last[1]} if last else None,
        "interrupted": interrupted._asdict() if interrupted else None,
        "torn_line": contents.torn.to_dict() if contents.torn else None,
        "lock": lock_status(manifest.root).to_dict(),
        "rollback_env": read_rollback_env(manifest.root),
        "records": len(records),
    }


def scan_interrupted(target: Path, archive: Path) -> dict[str, Any]:
    """Every incident in ``archive`` whose journal shows an operation that never ended.

    What ``rollback status`` without an incident reports: after a crash the
    operator does not yet know which incident was being rolled back.
    """
    manifest = load_manifest(target)
    found = []
    incidents = list_incidents(archive) if archive.is_dir() else []
    for incident in incidents:
        records = Journal.for_incident(incident_dir(archive, incident.id)).read().records
        interrupted = find_interrupted(list(records))
        if interrupted is not None:
            found.append(
                {
                    "incident": incident.id,
                    "title": incident.title,
                    "state": incident.state,
                    **interrupted._asdict(),
                }
            )
    return {
        "target": str(manifest.root),
        "archive": str(archive),
        "incidents_scanned": len(incidents),
        "interrupted": found,
        "lock": lock_status(manifest.root).to_dict(),
        "rollback_env": read_rollback_env(manifest.root),
    }


class NowReport(NamedTuple):
    """What ``runbook rollback now`` did."""

    incident: str
    plan: Plan
    report: OperationReport
    exports: list[str]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "incident": self.incident,
            "plan": self.plan.sha256,
            "steps": [s.title for s in self.plan.steps],
            "report": self.report.to_dict(),
            "exports": self.exports,
        }


def rollback_now(target: Path, archive: Path, title: str, *, dry_run: bool = False) -> NowReport:
    """Seed 000 §1.1 and §3.1: a critical incident, then env-var and config rollback at once.

    The same records as ``incident open``, ``rollback plan --strategy now`` and
    ``rollback apply`` one after the other, but planned and applied under one
    hold of the target's lock and sealed once, when the rollback is done.
    """
    manifest = load_manifest(target)
    with index.session(archive):
        note = "decision: immediate rollback (env var) + critical issue"
        incident = open_incident(archive, title, "critical", "crash", assessed=note)
        directory = incident_dir(archive, incident.id)
        actions = build_actions(Strategy.NOW, manifest, incident.id)
        with _changing(manifest, archive, directory, "rollback now"):
            plan = _save_plan(manifest, directory, incident, Strategy.NOW, actions)
            report = _apply(manifest, archive, directory, incident, plan, dry_run=dry_run)
    exports = export_lines({s.name: s.legacy for s in manifest.env.vars} if manifest.env else {})
    return NowReport(incident.id, plan, report, exports)
