"""The seeds' communication templates, rendered from an incident and posted to a webhook.

=================  ===============================================================
``issue-report``   seed 000 §5 Issue Notification (severity, environment, rollback
                   status, description, impact, workaround, next steps, ETA)
``resolution``     seed 000 §5 Resolution Notification
``initial``        seed 003 Communication Templates: Initial Notification
``progress``       seed 003 Progress Update (the 4-hourly stakeholder update)
``completion``     seed 003 Completion Notification
=================  ===============================================================

:func:`notify` renders one of them from what the archive holds (incident
record, decision, journal, checks) into ``comms/<NN>-<template>.md`` and, when
the target's manifest names a webhook (``webhook_url``, or the variable named
by ``webhook_url_env``), posts it as JSON with retries and exponential backoff.
A post that fails is recorded (journal and ``comms/<NN>-<template>.failed.json``)
and never raised: a message must not block a rollback. A posted progress update
meets the incident's ``stakeholder-update`` obligation.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jinja2

from runbook_lib.base.errors import InvalidInputError
from runbook_lib.base.fsutil import atomic_write_text
from runbook_lib.comms.webhook import PostResult, post_json, redact_url
from runbook_lib.evidence.amend import amending
from runbook_lib.evidence.layout import COMMS_DIR
from runbook_lib.evidence.records import next_numbered
from runbook_lib.evidence.summary import IncidentEvidence, gather
from runbook_lib.incident.deadlines import iso
from runbook_lib.incident.journal import Journal
from runbook_lib.incident.model import Incident, due, open_obligations, utc
from runbook_lib.incident.store import record_done
from runbook_lib.target.envfile import export_lines, read_rollback_env
from runbook_lib.target.manifest import Manifest
from runbook_lib.target.specs import DEFAULT_WEBHOOK_DEADLINE_S

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


TEMPLATES: dict[str, Template] = {t.name: t for t in (
    Template("issue-report", "{system} Issue Report", "RL Environment",
             "seed 000 §5 Issue Notification"),
    Template("resolution", "{system} Issue Resolved", "RL Environment",
             "seed 000 §5 Resolution Notification"),
    Template("initial", "{system} Implementation Issue - Rollback Initiated", "SAC Agent",
             "seed 003 Communication Templates, Initial Notification"),
    Template("progress", "{system} Rollback Progress Update", "SAC Agent",
             "seed 003 Communication Templates, Progress Update"),
    Template("completion", "{system} Rollback Complete", "SAC Agent",
             "seed 003 Communication Templates, Completion Notification"),
)}  # fmt: skip

# Seed 003's phases, reached as the incident moves through its states.
_PHASES = {"opened": "Assessment", "assessed": "Assessment", "rolled-back": "Implementation",
           "verified": "Testing", "recovered": "Deployment", "closed": "Complete"}  # fmt: skip


@dataclass(frozen=True)
class NotifyReport:
    """What :func:`notify` wrote and posted."""

    incident: str
    template: str
    subject: str
    path: str
    markdown: str
    posted: bool
    webhook: str | None = None
    post: PostResult | None = None
    failure_note: str | None = None
    not_posted_because: str | None = None
    stakeholder_update_met: bool = False
    suspicious: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


def webhook_of(
    manifest: Manifest | None, environ: Mapping[str, str] | None = None
) -> tuple[str | None, str | None]:
    """The webhook URL to post to, or why there is none: ``(url, None)`` or ``(None, reason)``."""
    env = os.environ if environ is None else environ
    if manifest is None:
        return None, "no target manifest, so no webhook"
    if manifest.webhook_url_env:
        url = env.get(manifest.webhook_url_env, "")
        if not url:
            return None, f"${manifest.webhook_url_env} (notify.webhook_url_env) is not set"
        if urlsplit(url).scheme not in ("http", "https"):
            return None, f"${manifest.webhook_url_env} is not an http(s) URL"
        return url, None
    if manifest.webhook_url:
        return manifest.webhook_url, None
    return None, "the manifest configures no webhook ([notify] webhook_url)"


def _check_overrides(template: str, overrides: Mapping[str, Any]) -> None:
    if template not in TEMPLATES:
        raise InvalidInputError(f"unknown message template {template!r}",
                                hint=f"one of: {', '.join(TEMPLATES)}")  # fmt: skip
    unknown = sorted(set(overrides) - set(_OVERRIDES))
    if unknown:
        raise InvalidInputError(f"unknown message field(s): {', '.join(unknown)}",
                                hint=f"accepted: {', '.join(_OVERRIDES)}")  # fmt: skip
    bad = sorted(set(overrides.get("impact", ())) - set(IMPACTS))
    if bad:
        raise InvalidInputError(f"unknown impact {', '.join(bad)}",
                                hint=f"one or more of: {', '.join(IMPACTS)}")  # fmt: skip


def _decision_lines(evidence: IncidentEvidence) -> tuple[str, list[str], str]:
    decision = evidence.latest_decision() or {}
    summary = str(decision.get("summary") or decision.get("outcome") or "")
    steps = [str(action) for action in decision.get("actions", [])]
    return summary, steps, str(decision.get("outcome") or "")


def _issues(evidence: IncidentEvidence) -> list[str]:
    issues = [f"check {c['name']} failed: {c['summary']}" for c in evidence.failed_checks()]
    issues += [f"run {r['seq']} ({r['notebook']}) failed" for r in evidence.runs
               if r.get("status") != "ok"]  # fmt: skip
    if evidence.interrupted():
        issues.append("an operation was interrupted; 'runbook rollback resume' completes it")
    return issues


def _next_update(evidence: IncidentEvidence, now: datetime) -> str:
    upcoming = [d for d in due(evidence.incident, now)
                if d.obligation == "stakeholder-update" and d.status != "met"]  # fmt: skip
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
        return {"environment": "unknown target", "workaround": "export USE_UNIFIED_ENV=0",
                "env_var_set": False, "stable": None, "release": None}  # fmt: skip
    switches = manifest.env.vars if manifest.env else ()
    exports = export_lines({s.name: s.legacy for s in switches[:1]})
    return {
        "environment": f"{manifest.name} {manifest.git.release_ref or ''}".strip(),
        "workaround": exports[0] if exports else "export USE_UNIFIED_ENV=0",
        "env_var_set": bool(read_rollback_env(manifest.root)),
        "stable": manifest.git.stable_ref, "release": manifest.git.release_ref,
    }  # fmt: skip


def message_facts(evidence: IncidentEvidence, manifest: Manifest | None,
                  overrides: Mapping[str, Any], now: datetime) -> dict[str, Any]:  # fmt: skip
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
        "incident": incident, "opened_at": iso(incident.opened_at),
        "severity": incident.severity.capitalize(), "environment": target["environment"],
        "rollback_status": "Applied" if applied else ("Not needed" if documented or
                                                      (summary and not steps) else "Not applied"),
        "description": incident.title + (f". Decision: {summary}." if summary else ""),
        "impact": impact, "impact_text": ", ".join(f"{i} affected" for i in impact)
        or "being assessed", "workaround": target["workaround"],
        "next_steps": steps or ["assess the incident with the decision tree ('runbook decide')"],
        "eta": overrides.get("eta") or "investigating",
        "issue_reference": f"{incident.id}: {incident.title}"
        + (f" (tracking issue {tracking[0]})" if tracking else ""),
        "resolution": overrides.get("resolution")
        or ("Documented as expected behavior" if documented else "Fixed"),
        "version": overrides.get("version") or _version(target, evidence.applied_strategy()),
        "changes": done, "env_var_set": target["env_var_set"],
        "actions": list(overrides.get("actions", ())), "notes": overrides.get("notes", ""),
        "phase": _PHASES[incident.state],
        "expected_completion": overrides.get("eta")
        or iso(incident.opened_at + timedelta(hours=SEED_ROLLBACK_HOURS)),
        "completed_steps": done,
        "remaining_steps": [s for s in evidence.planned_steps() if s not in done],
        "issues": _issues(evidence), "next_update": _next_update(evidence, now),
        "verified": verified, "failed_checks": failed,
        "follow_up": _follow_up(incident),
        "system_status": f"incident {incident.state}; rollback "
        + ("applied" if applied else "not applied"),
        "verification": f"{len(checks) - len(failed)} of {len(checks)} checks passed"
        if checks else "no verification check recorded yet",
    }  # fmt: skip


def render(template: str, facts: Mapping[str, Any], system: str | None = None) -> tuple[str, str]:
    """The message's subject and markdown."""
    spec = TEMPLATES[template]
    name = system or spec.system
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATE_DIR), autoescape=False,
                             trim_blocks=True, keep_trailing_newline=True,
                             undefined=jinja2.StrictUndefined)  # fmt: skip
    text = env.get_template(f"{template}.md.j2").render(**facts, system=name)
    return spec.subject.format(system=name), text


@dataclass(frozen=True)
class _Delivery:
    """Where a message went: its file, the (redacted) webhook and the post's result."""

    path: Path
    webhook: str | None
    result: PostResult | None
    reason: str | None


def _record_failure(directory: Path, template: str, delivery: _Delivery) -> Path:
    note = delivery.path.with_name(delivery.path.stem + ".failed.json")
    result = delivery.result
    body = {"template": template, "message": delivery.path.name, "webhook": delivery.webhook,
            "attempts": result.attempts if result else 0,
            "status": result.status if result else None,
            "error": result.error if result else delivery.reason, "at": iso(utc())}  # fmt: skip
    atomic_write_text(note, json.dumps(body, indent=2, sort_keys=True) + "\n")
    Journal.for_incident(directory)({"event": "notify-failed", **body,
                                     "note": note.relative_to(directory).as_posix()})  # fmt: skip
    return note


def _post(directory: Path, template: str, subject: str, markdown: str, *, url: str | None,
          post: Mapping[str, float]) -> PostResult | None:  # fmt: skip
    """Post the message; called with no lock held (the network may take its deadline)."""
    if not url:
        return None
    payload = {"incident": directory.name, "template": template, "subject": subject,
               "text": markdown, "markdown": markdown}  # fmt: skip
    return post_json(url, payload, attempts=int(post["attempts"]),
                     base_delay_s=post["base_delay_s"], timeout_s=post["timeout_s"],
                     deadline_s=post["deadline_s"])  # fmt: skip


def _deliver(directory: Path, template: str, markdown: str, *, url: str | None,
             reason: str | None, result: PostResult | None) -> _Delivery:  # fmt: skip
    (directory / COMMS_DIR).mkdir(exist_ok=True)
    path = next_numbered(directory / COMMS_DIR, template, ".md")
    atomic_write_text(path, markdown)
    delivery = _Delivery(path, redact_url(url) if url else None, result, reason)
    Journal.for_incident(directory)({"event": "notify", "template": template,
                                     "path": path.relative_to(directory).as_posix(),
                                     "webhook": delivery.webhook,
                                     "posted": bool(result and result.ok),
                                     "error": result.error if result else None})  # fmt: skip
    return delivery


def notify(
    archive_dir: Path,
    incident_id: str,
    template: str,
    *,
    manifest: Manifest | None = None,
    post: bool = True,
    overrides: Mapping[str, Any] | None = None,
    now: datetime | None = None,
    attempts: int = 3,
    base_delay_s: float = 1.0,
    timeout_s: float = 10.0,
) -> NotifyReport:
    """Render ``template`` for an incident into its archive, and post it if a webhook is set.

    Raises:
        InvalidInputError: an unknown template, field or impact, or no such
            incident (checked before anything is written). A failed post is
            never raised; see :attr:`NotifyReport.post` and ``failure_note``.
    """
    fields = dict(overrides or {})
    _check_overrides(template, fields)
    evidence = gather(archive_dir, incident_id)
    facts = message_facts(evidence, manifest, fields, utc(now))
    subject, markdown = render(template, facts, fields.get("system"))
    url, reason = webhook_of(manifest) if post else (None, "--no-post")
    configured = manifest is not None and bool(manifest.webhook_url or manifest.webhook_url_env)
    deadline_s = manifest.webhook_deadline_s if manifest else DEFAULT_WEBHOOK_DEADLINE_S
    settings = {"attempts": attempts, "base_delay_s": base_delay_s, "timeout_s": timeout_s,
                "deadline_s": deadline_s}  # fmt: skip
    result = _post(evidence.directory, template, subject, markdown, url=url, post=settings)
    with amending(archive_dir, evidence.directory) as suspicious:
        sent = _deliver(evidence.directory, template, markdown, url=url,
                        reason=reason, result=result)  # fmt: skip
        posted = sent.result is not None and sent.result.ok
        note = _record_failure(evidence.directory, template, sent) \
            if post and configured and not posted else None  # fmt: skip
        met = _meet_update(archive_dir, evidence, template, sent.result,
                           sent.path.relative_to(evidence.directory).as_posix())  # fmt: skip
    return NotifyReport(
        incident=evidence.incident.id, template=template, subject=subject, path=str(sent.path),
        markdown=markdown, posted=posted, webhook=sent.webhook, post=sent.result,
        failure_note=str(note) if note else None, not_posted_because=None if url else reason,
        stakeholder_update_met=met, suspicious=list(suspicious),
    )  # fmt: skip


def _meet_update(archive_dir: Path, evidence: IncidentEvidence, template: str,
                 result: PostResult | None, relative: str) -> bool:  # fmt: skip
    """A posted progress update meets the 4-hourly stakeholder update (seed 003)."""
    incident = evidence.incident
    if template != "progress" or result is None or not result.ok:
        return False
    if "stakeholder-update" not in open_obligations(incident):
        return False
    record_done(archive_dir, incident.id, "stakeholder-update", note=f"posted {relative}")
    return True
