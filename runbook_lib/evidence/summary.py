"""Everything the archive knows about one incident, gathered for people to read.

:func:`gather` collects the incident record, its runs (from the hash chain),
decisions and checks (from the index, and the step checks the journal holds),
the journal, the seal and the file inventory into one :class:`IncidentEvidence`.
``runbook archive show``, the post-mortem bundle and the communication
templates all read this one object.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from runbook_lib.base.checknames import record_check_name
from runbook_lib.evidence import index
from runbook_lib.evidence.chain import read_chain
from runbook_lib.evidence.layout import CHECKS_DIR, COMMS_DIR, PARITY_FILE
from runbook_lib.evidence.seal import inventory
from runbook_lib.incident.journal import (
    JOURNAL_FILE,
    JournalEvent,
    find_interrupted,
    last_completed,
    read_journal,
)
from runbook_lib.incident.model import Incident
from runbook_lib.incident.store import incident_dir, load_incident


@dataclass(frozen=True)
class Event:
    """One line of the incident's timeline."""

    at: str
    kind: str
    text: str


def _moment(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        return datetime.min.replace(tzinfo=UTC)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _journal_text(record: dict[str, Any]) -> str | None:
    event = record.get("event")
    plan = str(record.get("plan", ""))[:12]
    steps = "; ".join(record.get("steps", []))
    status, template = record.get("status"), record.get("template")
    texts: dict[str, str] = {
        JournalEvent.PLAN: f"plan {plan} ({record.get('strategy')}): {steps}",
        JournalEvent.BEGIN: f"{record.get('operation')} of plan {plan} began",
        JournalEvent.END: f"{record.get('operation')} of plan {plan} ended"
        + ("" if record.get("ok", True) else " (not ok)"),
        JournalEvent.OUTCOME: f"step {record.get('step')} of plan {plan}: {status}",
        JournalEvent.RESUME: f"resume of {record.get('operation')} (plan {plan})",
        JournalEvent.RUN: f"run {record.get('seq')} of {record.get('notebook')}: {status}",
        JournalEvent.NOTIFY: f"message {template} written ({record.get('path')})"
        + (", posted" if record.get("posted") else ""),
        JournalEvent.NOTIFY_FAILED: f"message {template} not posted: {record.get('error')}",
        JournalEvent.DECISION: f"decision: {record.get('summary') or record.get('outcome')}",
        JournalEvent.CHECKS: f"checks from {record.get('source')}: {record.get('summary')}",
    }
    return texts.get(str(event))


@dataclass
class IncidentEvidence:
    """One incident's evidence, read from its directory and the archive's index."""

    incident: Incident
    directory: Path
    runs: list[dict[str, Any]]
    decisions: list[dict[str, Any]]
    checks: list[dict[str, Any]]
    journal: list[dict[str, Any]]
    seal: dict[str, Any] | None
    files: dict[str, dict[str, Any]]
    parity: dict[str, Any] | None = None
    comms: list[str] = field(default_factory=list)

    def latest_decision(self) -> dict[str, Any] | None:
        """The last recorded decision, else the one in the parity report, if any."""
        if self.decisions:
            return dict(self.decisions[-1]["data"])
        decision = (self.parity or {}).get("decision")
        return dict(decision) if isinstance(decision, dict) else None

    def rollback_applied(self) -> bool:
        """Whether the last completed operation applied a plan (not undone since)."""
        last = last_completed(self.journal)
        return last is not None and last[0] == "apply"

    def applied_strategy(self) -> str | None:
        """The strategy of the plan applied last (if the last operation was an apply)."""
        last = last_completed(self.journal)
        if last is None or last[0] != "apply":
            return None
        plans = {
            r.get("plan"): r.get("strategy")
            for r in self.journal
            if r.get("event") == JournalEvent.PLAN
        }
        return str(plans.get(last[1]) or "unknown")

    def applied_steps(self) -> list[str]:
        """Titles of the steps the journal shows done by applies, in order."""
        titles: dict[tuple[str, int], str] = {}
        done: list[str] = []
        for record in self.journal:
            key = (str(record.get("plan")), int(record.get("step", -1)))
            if record.get("event") == JournalEvent.INTENT and record.get("operation") == "apply":
                titles[key] = str(record.get("title", record.get("action")))
            elif record.get("event") == JournalEvent.OUTCOME and key in titles:
                done.append(titles.pop(key))
        return done

    def planned_steps(self) -> list[str]:
        """The steps of the newest plan, as the journal recorded it."""
        plans = [r for r in self.journal if r.get("event") == JournalEvent.PLAN]
        return [str(step) for step in plans[-1].get("steps", [])] if plans else []

    def interrupted(self) -> bool:
        """Whether an operation began and never ended (a resume is needed)."""
        return find_interrupted(self.journal) is not None

    def failed_checks(self) -> list[dict[str, Any]]:
        """Every check that failed."""
        return [check for check in self.checks if check.get("status") == "fail"]

    def timeline(self) -> list[Event]:
        """State changes, obligations met, journal events and runs, in time order."""
        events = [
            Event(t.at.isoformat(), "state", f"{t.state}" + (f": {t.note}" if t.note else ""))
            for t in self.incident.history
        ]
        events += [
            Event(
                c.at.isoformat(),
                "obligation",
                f"{c.obligation} met" + (f" ({c.note})" if c.note else ""),
            )
            for c in self.incident.completions
        ]
        for record in self.journal:
            text = _journal_text(record)
            if text is not None and record.get("event") != JournalEvent.OUTCOME:
                events.append(Event(str(record.get("at", "")), str(record.get("event")), text))
        return sorted(events, key=lambda event: _moment(event.at))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "incident": self.incident.to_dict(),
            "dir": str(self.directory),
            "runs": self.runs,
            "decisions": self.decisions,
            "checks": self.checks,
            "seal": self.seal,
            "files": self.files,
            "comms": self.comms,
            "rollback_applied": self.rollback_applied(),
            "timeline": [event.__dict__ for event in self.timeline()],
        }


def _journal_checks(journal: list[dict[str, Any]]) -> list[dict[str, Any]]:
    checks = []
    for record in journal:
        check = record.get("check")
        if record.get("event") == JournalEvent.OUTCOME and isinstance(check, dict):
            checks.append(
                {
                    "source": f"{record.get('operation')} plan {str(record.get('plan'))[:12]}",
                    "name": check.get("name"),
                    "status": check.get("status"),
                    "summary": check.get("summary"),
                    "blocking": check.get("blocking", True),
                    "recorded_at": record.get("at"),
                }
            )
    return checks


def _file_checks(directory: Path, indexed: set[str]) -> list[dict[str, Any]]:
    """Checks saved as ``checks/*.json`` by a writer that did not index them (the file rules)."""
    checks = []
    for path in sorted((directory / CHECKS_DIR).glob("*.json")):
        data = _read_json(path) or {}
        source = str(data.get("source") or path.stem)
        if source in indexed:
            continue
        at = data.get("recorded_at") or data.get("started_at")
        items = [c for c in data.get("checks", []) if isinstance(c, dict)]
        checks += [
            {
                "source": source,
                "name": record_check_name(c.get("name")),
                "status": c.get("status"),
                "summary": c.get("summary"),
                "blocking": c.get("blocking", True),
                "recorded_at": at,
            }
            for c in items
        ]
    return checks


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def gather(archive_dir: Path, incident_id: str) -> IncidentEvidence:
    """Read one incident's evidence.

    Raises:
        InvalidInputError: the ID is malformed or the archive has no such incident.
    """
    incident = load_incident(archive_dir, incident_id)
    directory = incident_dir(archive_dir, incident.id)
    journal = list(read_journal(directory / JOURNAL_FILE).records)
    rows = index.query(
        archive_dir,
        "SELECT decided_at, decision, strategy, data FROM decisions "
        "WHERE incident = ? ORDER BY decided_at, rowid",
        (incident.id,),
    )
    decisions = [{**row, "data": json.loads(row["data"] or "{}")} for row in rows]
    checks = index.query(
        archive_dir,
        "SELECT source, name, status, summary, blocking, "
        "recorded_at FROM checks WHERE incident = ? ORDER BY rowid",
        (incident.id,),
    )
    seals = index.query(
        archive_dir,
        "SELECT manifest_sha256, sealed_at, files FROM seals WHERE incident = ?",
        (incident.id,),
    )
    messages = (directory / COMMS_DIR).glob("*.md")
    comms = sorted(p.relative_to(directory).as_posix() for p in messages)
    return IncidentEvidence(
        incident=incident,
        directory=directory,
        runs=read_chain(directory),
        decisions=decisions,
        journal=journal,
        checks=checks
        + _file_checks(directory, {c["source"] for c in checks})
        + _journal_checks(journal),
        seal=seals[0] if seals else None,
        files=inventory(directory),
        parity=_read_json(directory / PARITY_FILE),
        comms=comms,
    )
