"""Document a difference in the target's ``rl_differences.md``, journaled and undoable.

Seed 000 §2 ends three branches in "Document": a regression under 20%, a
difference within tolerance, and an intentional difference (§3.3 step 3:
"Document in ``rl_differences.md`` if intentional"). :func:`document_difference`
refuses any other decision, renders a dated entry from the evidence (metrics,
verdict, first divergence, links to plots) and applies it as a one-step plan
under the target's lock, with the incident's journal; :func:`undo_difference`
takes it back.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runbook_lib.base.errors import InvalidInputError
from runbook_lib.evidence.amend import amending
from runbook_lib.evidence.layout import PARITY_FILE
from runbook_lib.evidence.records import record_checks
from runbook_lib.evidence.summary import gather
from runbook_lib.incident.journal import Journal, JournalEvent
from runbook_lib.incident.model import utc
from runbook_lib.incident.store import incident_dir, load_incident
from runbook_lib.rollback.actions.differences import DEFAULT_DOC, DifferencesEntryAction
from runbook_lib.rollback.actions.model import Plan
from runbook_lib.rollback.engine import (
    OperationReport,
    apply_plan,
    context_for,
    make_plan,
    undo_plan,
)
from runbook_lib.rollback.lock import TargetLock
from runbook_lib.rollback.plans import load_plan
from runbook_lib.rollback.strategies import Strategy
from runbook_lib.target.manifest import load_manifest

if TYPE_CHECKING:
    from runbook_lib.incident.ref import IncidentRef

STRATEGY = Strategy.DOCUMENT_DIFFERENCE
DOCUMENT_OUTCOMES = ("document-within-tolerance", "document-intentional", "document-and-monitor")
# What an entry shows; the other keys of a parity report are accepted and left out.
_SHOWN = (
    "summary",
    "decision",
    "verdict",
    "reason",
    "metrics",
    "first_divergence",
    "step_agreement",
    "throughput_regression_pct",
    "plots",
    "parity_report",
    "notes",
)
_PARITY_KEYS = (
    "steps",
    "episodes",
    "throughput_ci_pct",
    "legacy_steps_per_s",
    "candidate_steps_per_s",
    "crash",
    "spec",
    "profile",
    "records",
)


@dataclass(frozen=True)
class DocumentReport:
    """The entry written, the plan that wrote it and how applying it went."""

    entry: str
    document: str
    plan: Plan
    report: OperationReport

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "entry": self.entry,
            "document": self.document,
            "plan": self.plan.sha256,
            "report": self.report.to_dict(),
        }


def _pct(value: Any) -> str:
    return f"{float(value) * 100:+.2f}%" if isinstance(value, int | float) else "-"


def _num(value: Any) -> str:
    return f"{float(value):.6g}" if isinstance(value, int | float) else str(value)


def _metric_rows(metrics: Mapping[str, Any]) -> list[str]:
    rows = [
        "| Metric | Legacy | Candidate | Relative difference | 95% CI | Margin | Verdict |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, value in metrics.items():
        if not isinstance(value, Mapping):
            rows.append(f"| {name} | | {_num(value)} | | | | |")
            continue
        ci = f"[{_pct(value.get('ci_low'))}, {_pct(value.get('ci_high'))}]"
        margin = f"±{float(value['margin']) * 100:.1f}%" if "margin" in value else "-"
        rows.append(
            f"| {name} | {_num(value.get('legacy_mean', '-'))} | "
            f"{_num(value.get('candidate_mean', '-'))} | "
            f"{_pct(value.get('relative_difference'))} | {ci} | {margin} | "
            f"{value.get('verdict', '-')} |"
        )
    return rows


def _link(path: str, base: Path, doc_dir: Path) -> str:
    resolved = (base / path).resolve()
    return Path(os.path.relpath(resolved, doc_dir)).as_posix()


def _divergence(first: Any) -> str | None:
    if not isinstance(first, Mapping):
        return None
    parts = [f"{k} {first[k]}" for k in ("episode", "step", "field") if k in first]
    values = [f"{k} {first[k]!r}" for k in first if k not in ("episode", "step", "field")]
    return ", ".join(parts + values[:2])


def render_entry(
    evidence: Mapping[str, Any],
    decision: Mapping[str, Any],
    *,
    incident: str,
    title: str,
    day: str,
    base: Path,
    doc_dir: Path,
) -> str:
    """One dated markdown entry for the differences document."""
    summary = str(evidence.get("summary") or title)
    lines = [
        f"### {day}: {summary} ({incident})",
        "",
        f"- Decision: {decision.get('summary', decision.get('outcome'))} "
        f"(`{decision.get('outcome')}`, {decision.get('source', 'seed 000 §2')})",
    ]
    if "verdict" in evidence:
        reason = f": {evidence['reason']}" if evidence.get("reason") else ""
        lines.append(f"- Parity verdict: {evidence['verdict']}{reason}")
    if isinstance(evidence.get("step_agreement"), int | float):
        lines.append(f"- Steps that agree: {float(evidence['step_agreement']):.2%}")
    regression = evidence.get("throughput_regression_pct")
    if isinstance(regression, int | float):
        lines.append(f"- Throughput regression: {float(regression):.1f}%")
    divergence = _divergence(evidence.get("first_divergence"))
    if divergence:
        lines.append(f"- First divergence: {divergence}")
    if evidence.get("parity_report"):
        lines.append(
            f"- Parity report: [{Path(str(evidence['parity_report'])).name}]"
            f"({_link(str(evidence['parity_report']), base, doc_dir)})"
        )
    lines.append(f"- Evidence: incident {incident} in the runbook archive")
    if evidence.get("notes"):
        lines.append(f"- Notes: {evidence['notes']}")
    if evidence.get("metrics"):
        lines += ["", *_metric_rows(evidence["metrics"])]
    plots: Sequence[str] = evidence.get("plots") or []
    if plots:
        links = ", ".join(f"[{Path(p).stem}]({_link(p, base, doc_dir)})" for p in plots)
        lines += ["", f"Plots: {links}"]
    return "\n".join(lines) + "\n"


def _check_evidence(evidence: Mapping[str, Any]) -> None:
    unknown = sorted(set(evidence) - set(_SHOWN) - set(_PARITY_KEYS))
    if unknown:
        raise InvalidInputError(
            f"unknown evidence key(s): {', '.join(unknown)}",
            hint=f"accepted: {', '.join(_SHOWN)} (and a parity report's other keys)",
        )
    if "metrics" in evidence and not isinstance(evidence["metrics"], Mapping):
        raise InvalidInputError("evidence['metrics'] must map metric names to values")
    plots = evidence.get("plots", [])
    if not isinstance(plots, list | tuple) or not all(isinstance(p, str) for p in plots):
        raise InvalidInputError("evidence['plots'] must be a list of file paths")


def _decision(evidence: Mapping[str, Any], archive_dir: Path, incident_id: str) -> dict[str, Any]:
    given = evidence.get("decision")
    decision = (
        dict(given)
        if isinstance(given, Mapping)
        else (
            {"outcome": given}
            if isinstance(given, str)
            else gather(archive_dir, incident_id).latest_decision()
        )
    )
    if not decision:
        raise InvalidInputError(
            f"incident {incident_id} has no decision to document",
            hint="record one ('runbook decide --incident ID ...') or pass evidence['decision']",
        )
    if decision.get("outcome") not in DOCUMENT_OUTCOMES:
        raise InvalidInputError(
            f"the decision is {decision.get('outcome')!r}, not to document",
            hint=f"seed 000 §2 documents only: {', '.join(DOCUMENT_OUTCOMES)}",
        )
    return decision


def difference_actions(
    archive_dir: Path,
    directory: Path,
    root: Path,
    incident_id: str,
    title: str,
    *,
    doc: str = DEFAULT_DOC,
) -> list[DifferencesEntryAction]:
    """The step that documents the incident's recorded decision and parity evidence.

    ``runbook rollback plan --strategy document-difference`` plans it, so the
    entry is applied, resumed and undone like any plan.

    Raises:
        InvalidInputError: no recorded decision, or one that is not to document.
    """
    parity = directory / PARITY_FILE
    evidence: dict[str, Any] = {}
    if parity.is_file():
        recorded = json.loads(parity.read_text(encoding="utf-8"))
        evidence = {k: v for k, v in recorded.items() if k in _SHOWN or k in _PARITY_KEYS}
        evidence.pop("decision", None)  # the parity's own advice, not the incident's decision
    action = _entry_action(
        evidence,
        archive_dir=archive_dir,
        directory=directory,
        root=root,
        incident_id=incident_id,
        title=title,
        doc=doc,
        now=None,
    )
    return [action]


def _entry_action(
    evidence: Mapping[str, Any],
    *,
    archive_dir: Path,
    directory: Path,
    root: Path,
    incident_id: str,
    title: str,
    doc: str,
    now: datetime | None,
) -> DifferencesEntryAction:
    """The step that appends the dated entry for ``evidence`` and the decision to document."""
    decision = _decision(evidence, archive_dir, incident_id)
    entry = render_entry(
        evidence,
        decision,
        incident=incident_id,
        title=title,
        day=utc(now).date().isoformat(),
        base=directory,
        doc_dir=(root / doc).parent,
    )
    return DifferencesEntryAction(doc, entry)


def document_difference(
    ref: IncidentRef,
    evidence: Mapping[str, Any],
    *,
    doc: str = DEFAULT_DOC,
    now: datetime | None = None,
) -> DocumentReport:
    """Append the dated evidence entry to the target's differences document.

    ``evidence`` may be a parity report (``parity.json``) with ``summary``,
    ``plots`` (paths relative to the incident directory or absolute),
    ``parity_report`` and ``notes`` added. The decision is ``evidence['decision']``
    or the incident's latest recorded one.

    Raises:
        InvalidInputError: unknown evidence keys, no decision or one that is not
            to document, or no such document (nothing is changed then).
        LockHeldError: another runbook process is changing the target.
    """
    archive_dir = ref.archive
    manifest = load_manifest(ref.target)
    incident = load_incident(archive_dir, ref.id)
    directory = incident_dir(archive_dir, incident.id)
    _check_evidence(evidence)
    action = _entry_action(
        evidence,
        archive_dir=archive_dir,
        directory=directory,
        root=manifest.root,
        incident_id=incident.id,
        title=incident.title,
        doc=doc,
        now=now,
    )
    lock = TargetLock(manifest.root, incident=incident.id, command="document difference")
    with lock, amending(archive_dir, directory):  # the plan and its blobs are sealed with it
        plan = make_plan(manifest.root, incident.id, STRATEGY, [action], directory)
        journal = Journal.for_incident(directory)
        journal(
            {
                "event": JournalEvent.PLAN,
                "plan": plan.sha256,
                "strategy": STRATEGY,
                "steps": [s.title for s in plan.steps],
            }
        )
        report = apply_plan(plan, context_for(manifest.root, directory), journal)
    record_checks(archive_dir, directory, STRATEGY, [c.to_dict() for c in report.checks])
    return DocumentReport(action.entry, str(manifest.root / doc), plan, report)


def undo_difference(ref: IncidentRef, plan_sha: str) -> OperationReport:
    """Take a documented entry back out (the plan :func:`document_difference` applied).

    Raises:
        InvalidInputError: no such plan, or the plan is not a differences entry.
    """
    archive_dir = ref.archive
    manifest = load_manifest(ref.target)
    incident = load_incident(archive_dir, ref.id)
    directory = incident_dir(archive_dir, incident.id)
    plan = load_plan(directory, plan_sha)
    if plan.strategy != STRATEGY:
        raise InvalidInputError(
            f"plan {plan.sha256[:12]} is a {plan.strategy!r} plan",
            hint="'runbook rollback undo' takes rollbacks back",
        )
    with TargetLock(manifest.root, incident=incident.id, command="undo difference entry"):
        report = undo_plan(
            plan, context_for(manifest.root, directory), Journal.for_incident(directory)
        )
    with amending(archive_dir, directory):
        pass  # seal the journal records of the undo
    return report
