"""``runbook incident``: open, list, show and advance incidents, and record obligations met."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from runbook_lib.app.cli.common import emit
from runbook_lib.app.cli.options import OneLineGroup, archive_option, json_option
from runbook_lib.incident.deadlines import OBLIGATIONS, Deadline, iso
from runbook_lib.incident.model import (
    KINDS,
    SEVERITIES,
    STATES,
    TRANSITIONS,
    Incident,
    due,
    open_obligations,
)
from runbook_lib.incident.store import (
    advance_incident,
    incident_dir,
    list_incidents,
    load_incident,
    open_incident,
    record_done,
)


def _key_usable(archive: Path) -> Path:
    """``archive``, once the configured signing key loads: a bad key stops before any write."""
    from runbook_lib.evidence.attest import configured_key

    configured_key(archive)
    return archive


def _sealed(archive: Path, incident: Incident) -> Incident:
    """Seal the incident's evidence again, so that 'archive verify' covers this change."""
    from runbook_lib.evidence.amend import seal_changes

    seal_changes(archive, incident_dir(archive, incident.id))
    return incident


def _details(archive: Path, incident: Incident) -> dict[str, Any]:
    data = incident.to_dict()
    data["dir"] = str(incident_dir(archive, incident.id))
    data["deadlines"] = [d.to_dict() for d in due(incident)]
    data["next_states"] = list(TRANSITIONS[incident.state])
    data["open_obligations"] = open_obligations(incident)
    return data


def _pending(deadlines: list[Deadline]) -> str:
    overdue = [d for d in deadlines if d.status == "overdue"]
    upcoming = [d for d in deadlines if d.status == "due"]
    parts = []
    if overdue:
        parts.append(f"{len(overdue)} OVERDUE ({overdue[0].obligation})")
    if upcoming:
        parts.append(f"{upcoming[0].obligation} due {upcoming[0].due_at:%m-%d %H:%M}Z")
    return ", ".join(parts) or "-"


def _deadline_lines(deadlines: list[Deadline]) -> list[str]:
    lines = []
    for d in deadlines:
        met = f", met {iso(d.met_at)}{' (late)' if d.late else ''}" if d.met_at else ""
        lines.append(f"  {d.status:<8} {d.obligation:<20} due {iso(d.due_at)}{met}  [{d.source}]")
    return lines or ["  (none yet)"]


@click.group(cls=OneLineGroup)
def incident() -> None:
    """Open, list, show and advance incidents.

    An incident lives in ARCHIVE/incidents/<ID>/ (IDs like INC-20261123-0612-3fa2)
    and moves through opened -> assessed -> rolled-back -> verified -> recovered
    -> closed. It carries the seeds' deadlines: a tracking issue (1 h) and a
    root-cause analysis (24 h) for a critical incident, a stakeholder update
    every 4 h during a rollback, a management report 24 h after it.
    """


@incident.command("open")
@click.option("--title", required=True, help="One line describing the symptom.")
@click.option("--severity", required=True, type=click.Choice(SEVERITIES))
@click.option("--kind", required=True, type=click.Choice(KINDS))
@archive_option
@json_option
def open_command(title: str, severity: str, kind: str, archive: Path, as_json: bool) -> None:
    """Open a new incident and print its ID."""
    opened = _sealed(archive, open_incident(_key_usable(archive), title, severity, kind))
    emit(_details(archive, opened), as_json=as_json, text=opened.id)


@incident.command("list")
@archive_option
@json_option
def list_command(archive: Path, as_json: bool) -> None:
    """List the archive's incidents with what is due or overdue."""
    incidents = list_incidents(archive)
    rows = [f"{'ID':<22}  {'SEVERITY':<8}  {'STATE':<11}  {'DEADLINES':<36}  TITLE"]
    for item in incidents:
        pending = _pending(due(item))
        rows.append(
            f"{item.id:<22}  {item.severity:<8}  {item.state:<11}  {pending:<36}  {item.title}"
        )
    text = "\n".join(rows) if incidents else f"no incidents in {archive}"
    data = {"archive": str(archive), "incidents": [_details(archive, i) for i in incidents]}
    emit(data, as_json=as_json, text=text)


@incident.command("show")
@click.argument("incident_id", metavar="ID")
@archive_option
@json_option
def show_command(incident_id: str, archive: Path, as_json: bool) -> None:
    """Show an incident: its history, deadlines and possible next states."""
    item = load_incident(archive, incident_id)
    lines = [
        f"{item.id}  {item.severity} {item.kind}  state {item.state}",
        f"title: {item.title}",
        "history:",
        *(f"  {iso(t.at)}  {t.state}{'  ' + t.note if t.note else ''}" for t in item.history),
        "deadlines:",
        *_deadline_lines(due(item)),
        f"next states: {', '.join(TRANSITIONS[item.state]) or 'none (closed)'}",
        f"open obligations: {', '.join(open_obligations(item)) or 'none'}",
    ]
    emit(_details(archive, item), as_json=as_json, text="\n".join(lines))


@incident.command("advance")
@click.argument("incident_id", metavar="ID")
@click.argument("state", type=click.Choice(STATES), metavar="STATE")
@click.option("--note", default="", help="Why, for the record.")
@archive_option
@json_option
def advance_command(incident_id: str, state: str, note: str, archive: Path, as_json: bool) -> None:
    """Move an incident to STATE (only the transitions the procedure allows).

    STATE is one of: opened, assessed, rolled-back, verified, recovered, closed.
    """
    after = _sealed(archive, advance_incident(_key_usable(archive), incident_id, state, note=note))
    text = f"{after.id}: {after.history[-2].state} -> {after.state}"
    emit(_details(archive, after), as_json=as_json, text=text)


@incident.command("done")
@click.argument("incident_id", metavar="ID")
@click.argument("obligation", type=click.Choice(list(OBLIGATIONS)), metavar="OBLIGATION")
@click.option("--note", default="", help="A reference (issue URL, report path) for the record.")
@archive_option
@json_option
def done_command(
    incident_id: str, obligation: str, note: str, archive: Path, as_json: bool
) -> None:
    """Record that OBLIGATION was met now (e.g. the tracking issue was opened).

    OBLIGATION is one of: tracking-issue, root-cause-analysis, stakeholder-update,
    management-report; 'runbook incident show ID' lists those open now.
    """
    item = _sealed(archive, record_done(_key_usable(archive), incident_id, obligation, note=note))
    met = item.completions[-1]
    emit(
        _details(archive, item),
        as_json=as_json,
        text=f"{item.id}: {obligation} met at {iso(met.at)}",
    )
