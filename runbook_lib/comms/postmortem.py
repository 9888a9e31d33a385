"""Seed 003's post-rollback activities: the timeline, phase durations, deadlines, RCA.

Everything comes from the incident's own records: ``incident.json`` (state
transitions and obligations met), ``journal.jsonl`` (every rollback step with
its time) and the run chain. Each phase's actual duration is compared with seed
003's estimate (assessment 1 h, implementation rollback 2 h, testing 3 h,
deployment 2 h, verification and communication 1 h).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from runbook_lib.base.fsutil import atomic_write_text
from runbook_lib.base.timefmt import duration_text, utc_time
from runbook_lib.evidence.chain import read_chain
from runbook_lib.evidence.layout import BLOBS_DIR
from runbook_lib.incident.journal import Journal
from runbook_lib.incident.model import Incident, due
from runbook_lib.incident.store import incident_dir, load_incident

ESTIMATES_H = {
    "assessment": 1.0,
    "implementation rollback": 2.0,
    "testing and validation": 3.0,
    "deployment rollback": 2.0,
    "verification and communication": 1.0,
}
DEPLOYMENT_ACTIONS = frozenset({"package", "service-stop", "service-start"})


@dataclass(frozen=True)
class Phase:
    """One of seed 003's phases: its estimate and what it really took."""

    name: str
    estimate_h: float
    started_at: str | None
    ended_at: str | None
    actual_s: float | None

    @property
    def within_estimate(self) -> bool | None:
        """Whether the phase took no longer than its estimate (None when not done)."""
        return None if self.actual_s is None else self.actual_s <= self.estimate_h * 3600


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _span(name: str, times: list[datetime]) -> Phase:
    if not times:
        return Phase(name, ESTIMATES_H[name], None, None, None)
    start, end = min(times), max(times)
    return Phase(
        name, ESTIMATES_H[name], start.isoformat(), end.isoformat(), (end - start).total_seconds()
    )


def phases(incident: Incident, journal: list[dict[str, Any]]) -> list[Phase]:
    """Seed 003's five phases with their actual spans from the records."""
    opened, assessed = incident.opened_at, incident.reached("assessed")
    rolled, verified = incident.reached("rolled-back"), incident.reached("verified")
    last = incident.history[-1].at
    steps = [r for r in journal if r.get("event") in {"intent", "outcome"} and r.get("at")]
    action_of = {(r.get("plan"), r.get("step")): r.get("action") for r in steps if r.get("action")}
    deploy: list[datetime] = []
    implement: list[datetime] = []
    for record in steps:
        action = action_of.get((record.get("plan"), record.get("step")))
        (deploy if action in DEPLOYMENT_ACTIONS else implement).append(_at(record["at"]))
    return [
        _span("assessment", [opened, assessed] if assessed else []),
        _span("implementation rollback", implement),
        _span("testing and validation", [rolled, verified] if rolled and verified else []),
        _span("deployment rollback", deploy),
        _span("verification and communication", [verified, last] if verified else []),
    ]


def timeline(
    incident: Incident, journal: list[dict[str, Any]], runs: list[dict[str, Any]]
) -> list[dict[str, str]]:
    """Every recorded event in time order: transitions, rollback steps, runs, obligations."""
    events = [
        {"at": t.at.isoformat(), "what": f"incident {t.state}", "detail": t.note}
        for t in incident.history
    ]
    events += [
        {"at": c.at.isoformat(), "what": f"obligation met: {c.obligation}", "detail": c.note}
        for c in incident.completions
    ]
    for record in journal:
        if record.get("event") in {"begin", "end", "intent", "resume"}:
            what = f"{record.get('operation', '')} {record['event']}".strip()
            detail = record.get("title") or record.get("action") or str(record.get("plan", ""))[:12]
            events.append({"at": record["at"], "what": what, "detail": str(detail)})
    events += [
        {
            "at": str(r.get("started_at", "")),
            "what": f"run {r['seq']}: {r['notebook']}",
            "detail": str(r.get("status")),
        }
        for r in runs
    ]
    return sorted(events, key=lambda e: _at(e["at"]) if e["at"] else datetime.max)


@dataclass(frozen=True)
class Postmortem:
    """The post-mortem's facts and its markdown."""

    incident: dict[str, Any]
    phases: list[Phase]
    deadlines: list[dict[str, Any]]
    timeline: list[dict[str, str]]
    evidence: list[str]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        data = asdict(self)
        for phase, item in zip(self.phases, data["phases"], strict=True):
            item["within_estimate"] = phase.within_estimate
        return data


def build(archive: Path, incident_id: str) -> Postmortem:
    """Collect the post-mortem of one incident from its records."""
    incident = load_incident(archive, incident_id)
    directory = incident_dir(archive, incident_id)
    journal = list(Journal.for_incident(directory).read().records)
    runs = read_chain(directory)
    evidence = sorted(
        p.relative_to(directory).as_posix()
        for p in directory.rglob("*")
        if p.is_file() and BLOBS_DIR not in p.parts and not p.name.endswith(".lock")
    )
    return Postmortem(
        incident.to_dict(),
        phases(incident, journal),
        [d.to_dict() for d in due(incident)],
        timeline(incident, journal, runs),
        evidence,
    )


def _duration(seconds: float | None) -> str:
    return "not reached" if seconds is None else duration_text(seconds)


def phase_rows(pm: Postmortem) -> list[dict[str, str]]:
    """The phases as people read them: estimate and actual in one duration format."""
    within = {True: "yes", False: "no", None: "-"}
    return [
        {
            "phase": phase.name,
            "estimate": _duration(phase.estimate_h * 3600),
            "actual": _duration(phase.actual_s),
            "within estimate": within[phase.within_estimate],
            "started (UTC)": utc_time(phase.started_at, seconds=True, zone=False),
            "ended (UTC)": utc_time(phase.ended_at, seconds=True, zone=False),
        }
        for phase in pm.phases
    ]


def deadline_rows(pm: Postmortem) -> list[dict[str, str]]:
    """The deadlines as people read them: ``2026-12-04 07:05 UTC``, never an ISO text."""
    return [
        {
            "obligation": str(d["obligation"]),
            "due": utc_time(d["due_at"]),
            "status": str(d["status"]) + (" (late)" if d.get("late") else ""),
            "met": utc_time(d.get("met_at")),
        }
        for d in pm.deadlines
    ]


def timeline_rows(pm: Postmortem) -> list[dict[str, str]]:
    """The timeline as people read it: to the second in UTC, no fraction of one."""
    return [
        {"when (UTC)": utc_time(e["at"], seconds=True, zone=False), **_what(e)} for e in pm.timeline
    ]


def _cell(text: str) -> str:
    """``text`` fit for one markdown table cell (no pipe, no line break)."""
    return " ".join(text.split()).replace("|", "\\|")


def _what(event: dict[str, str]) -> dict[str, str]:
    return {"what": event["what"], "detail": event["detail"] or "-"}


def render_markdown(pm: Postmortem) -> str:
    """The post-mortem document: facts first, then seed 003's templates to fill in."""
    inc = pm.incident
    lines = [
        f"# Post-mortem {inc['id']}: {inc['title']}",
        "",
        f"Severity **{inc['severity']}**, kind **{inc['kind']}**, state **{inc['state']}**.",
        "",
        "## Phases against seed 003's estimates",
        "",
        "| phase | estimate | actual | within |",
        "| --- | --- | --- | --- |",
    ]
    for phase in pm.phases:
        within = {True: "yes", False: "**no**", None: "-"}[phase.within_estimate]
        lines.append(
            f"| {phase.name} | {_duration(phase.estimate_h * 3600)} | "
            f"{_duration(phase.actual_s)} | {within} |"
        )
    lines += [
        "",
        "## Deadlines",
        "",
        "| obligation | due | status | met |",
        "| --- | --- | --- | --- |",
    ]
    for row in deadline_rows(pm):
        lines.append(f"| {row['obligation']} | {row['due']} | {row['status']} | {row['met']} |")
    lines += ["", "## Timeline", "", "| when (UTC) | what | detail |", "| --- | --- | --- |"]
    lines += [
        f"| {row['when (UTC)']} | {_cell(row['what'])} | {_cell(row['detail'])} |"
        for row in timeline_rows(pm)
    ]
    lines += [
        "",
        "## Root cause analysis (seed 003)",
        "",
        "1. Primary cause of failure: _to fill in_",
        "2. Contributing factors: _to fill in_",
        "3. Preventive measures: _to fill in_",
        "4. Risk register update: _to fill in_",
        "",
        "## Process improvement (seed 003)",
        "",
        "1. Rollback procedure changes from lessons learned: _to fill in_",
        "2. Testing protocol improvements: _to fill in_",
        "3. Monitoring and alerting improvements: _to fill in_",
        "4. Documentation standards updates: _to fill in_",
        "",
        "## Re-implementation planning (seed 003)",
        "",
        "1. What can be salvaged: _to fill in_",
        "2. Improved approach: _to fill in_",
        "3. Timeline: _to fill in_",
        "4. Resources: _to fill in_",
        "",
        "## Evidence",
        "",
    ]
    lines += [f"- [{path}]({path})" for path in pm.evidence]
    return "\n".join(lines) + "\n"


def write(archive: Path, incident_id: str, pm: Postmortem | None = None) -> Path:
    """Write ``postmortem.md`` (and ``postmortem.json``) into the incident directory."""
    pm = pm or build(archive, incident_id)
    directory = incident_dir(archive, incident_id)
    data = json.dumps(pm.to_dict(), indent=2, sort_keys=True, default=str) + "\n"
    atomic_write_text(directory / "postmortem.json", data)
    path = directory / "postmortem.md"
    atomic_write_text(path, render_markdown(pm))
    return path
