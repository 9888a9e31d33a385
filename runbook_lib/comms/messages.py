"""The seeds' message templates and the facts they are rendered from (an incident's records)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import jinja2

from runbook_lib.base.errors import InvalidInputError
from runbook_lib.evidence.summary import IncidentEvidence
from runbook_lib.incident.deadlines import iso
from runbook_lib.incident.model import Incident, due
from runbook_lib.target.envfile import export_lines, read_rollback_env
from runbook_lib.target.manifest import Manifest

TEMPLATE_DIR = Path(__file__).parent / "templates"


IMPACTS = ("training", "evaluation", "production")


SEED_ROLLBACK_HOURS = 9  # seed 003 "Total Estimated Time"


_OVERRIDES = ("eta", "impact", "notes", "resolution", "version", "system", "actions")


@dataclass(frozen=True)
class Template:
    """One message template: its subject and the seed text it follows."""

    name: str
    subject: str
    system: str
    source: str


TEMPLATES: dict[str, Template] = {
    t.name: t
    for t in (
        Template(
            "issue-report",
            "{system} Issue Report",
            "RL Environment",
            "seed 000 §5 Issue Notification",
        ),
        Template(
            "resolution",
            "{system} Issue Resolved",
            "RL Environment",
            "seed 000 §5 Resolution Notification",
        ),
        Template(
            "initial",
            "{system} Implementation Issue - Rollback Initiated",
            "SAC Agent",
            "seed 003 Communication Templates, Initial Notification",
        ),
        Template(
            "progress",
            "{system} Rollback Progress Update",
            "SAC Agent",
            "seed 003 Communication Templates, Progress Update",
        ),
        Template(
            "completion",
            "{system} Rollback Complete",
            "SAC Agent",
            "seed 003 Communication Templates, Completion Notification",
        ),
    )
}


# Seed 003's phases, reached as the incident moves through its states.
_PHASES = {
    "opened": "Assessment",
    "assessed": "Assessment",
    "rolled-back": "Implementation",
    "verified": "Testing",
    "recovered": "Deployment",
    "closed": "Complete",
}


def _check_overrides(template: str, overrides: Mapping[str, Any]) -> None:
    if template not in TEMPLATES:
        raise InvalidInputError(
            f"unknown message template {template!r}", hint=f"one of: {', '.join(TEMPLATES)}"
        )
    unknown = sorted(set(overrides) - set(_OVERRIDES))
    if unknown:
        raise InvalidInputError(
            f"unknown message field(s): {', '.join(unknown)}",
            hint=f"accepted: {', '.join(_OVERRIDES)}",
        )
    bad = sorted(set(overrides.get("impact", ())) - set(IMPACTS))
    if bad:
        raise InvalidInputError(
            f"unknown impact {', '.join(bad)}", hint=f"one or more of: {', '.join(IMPACTS)}"
        )


def _decision_lines(evidence: IncidentEvidence) -> tuple[str, list[str], str]:
    decision = evidence.latest_decision() or {}
    summary = str(decision.get("summary") or decision.get("outcome") or "")
    steps = [str(action) for action in decision.get("actions", [])]
    return summary, steps, str(decision.get("outcome") or "")


def _issues(evidence: IncidentEvidence) -> list[str]:
    issues = [f"check {c['name']} failed: {c['summary']}" for c in evidence.failed_checks()]
    issues += [
        f"run {r['seq']} ({r['notebook']}) failed" for r in evidence.runs if r.get("status") != "ok"
    ]
    if evidence.interrupted():
        issues.append("an operation was interrupted; 'runbook rollback resume' completes it")
    return issues


def _next_update(evidence: IncidentEvidence, now: datetime) -> str:
    upcoming = [
        d
        for d in due(evidence.incident, now)
        if d.obligation == "stakeholder-update" and d.status != "met"
    ]
    return iso(upcoming[0].due_at) if upcoming else iso(now + timedelta(hours=4))


def _version(target: Mapping[str, Any], strategy: str | None) -> str:
    release = target["release"] or "the release"
    return f"{release} with rollback '{strategy}' applied" if strategy else str(release)


def _follow_up(incident: Incident) -> list[str]:
    """Seed 003 step 13.3, "Plan next steps", less what is done already."""
    done = {c.obligation for c in incident.completions}
    steps = [] if "root-cause-analysis" in done else ["schedule the root-cause analysis"]
    return [*steps, "plan the re-implementation timeline", "update the risk mitigation strategies"]


def _target_facts(manifest: Manifest | None) -> dict[str, Any]:
    if manifest is None:
        return {
            "environment": "unknown target",
            "workaround": "export USE_UNIFIED_ENV=0",
            "env_var_set": False,
            "stable": None,
            "release": None,
        }
    switches = manifest.env.vars if manifest.env else ()
    exports = export_lines({s.name: s.legacy for s in switches[:1]})
    return {
        "environment": f"{manifest.name} {manifest.git.release_ref or ''}".strip(),
        "workaround": exports[0] if exports else "export USE_UNIFIED_ENV=0",
        "env_var_set": bool(read_rollback_env(manifest.root)),
        "stable": manifest.git.stable_ref,
        "release": manifest.git.release_ref,
    }


def message_facts(
    evidence: IncidentEvidence,
    manifest: Manifest | None,
    overrides: Mapping[str, Any],
    now: datetime,
) -> dict[str, Any]:
    """Every field the templates use, from the archive (``overrides`` win)."""
    incident = evidence.incident
    summary, steps, outcome = _decision_lines(evidence)
    target = _target_facts(manifest)
    applied = evidence.rollback_applied()
    done = evidence.applied_steps()
    impact = list(overrides.get("impact", ()))
    checks = evidence.checks
    failed = evidence.failed_checks()
    verified = incident.state in ("verified", "recovered", "closed") and not failed
    tracking = [c.note for c in incident.completions if c.obligation == "tracking-issue" and c.note]
    documented = outcome.startswith("document")
    return {
        "incident": incident,
        "opened_at": iso(incident.opened_at),
        "severity": incident.severity.capitalize(),
        "environment": target["environment"],
        "rollback_status": "Applied"
        if applied
        else ("Not needed" if documented or (summary and not steps) else "Not applied"),
        "description": incident.title + (f". Decision: {summary}." if summary else ""),
        "impact": impact,
        "impact_text": ", ".join(f"{i} affected" for i in impact) or "being assessed",
        "workaround": target["workaround"],
        "next_steps": steps or ["assess the incident with the decision tree ('runbook decide')"],
        "eta": overrides.get("eta") or "investigating",
        "issue_reference": f"{incident.id}: {incident.title}"
        + (f" (tracking issue {tracking[0]})" if tracking else ""),
        "resolution": overrides.get("resolution")
        or ("Documented as expected behavior" if documented else "Fixed"),
        "version": overrides.get("version") or _version(target, evidence.applied_strategy()),
        "changes": done,
        "env_var_set": target["env_var_set"],
        "actions": list(overrides.get("actions", ())),
        "notes": overrides.get("notes", ""),
        "phase": _PHASES[incident.state],
        "expected_completion": overrides.get("eta")
        or iso(incident.opened_at + timedelta(hours=SEED_ROLLBACK_HOURS)),
        "completed_steps": done,
        "remaining_steps": [s for s in evidence.planned_steps() if s not in done],
        "issues": _issues(evidence),
        "next_update": _next_update(evidence, now),
        "verified": verified,
        "failed_checks": failed,
        "follow_up": _follow_up(incident),
        "system_status": f"incident {incident.state}; rollback "
        + ("applied" if applied else "not applied"),
        "verification": f"{len(checks) - len(failed)} of {len(checks)} checks passed"
        if checks
        else "no verification check recorded yet",
    }


def render(template: str, facts: Mapping[str, Any], system: str | None = None) -> tuple[str, str]:
    """The message's subject and markdown."""
    spec = TEMPLATES[template]
    name = system or spec.system
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
        autoescape=False,
        trim_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    text = env.get_template(f"{template}.md.j2").render(**facts, system=name)
    return spec.subject.format(system=name), text
