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
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from runbook_lib.base.fsutil import atomic_write_text
from runbook_lib.comms.messages import (
    _check_overrides,
    message_facts,
    render,
)
from runbook_lib.comms.webhook import PostResult, post_json, redact_url
from runbook_lib.evidence.amend import amending
from runbook_lib.evidence.layout import COMMS_DIR
from runbook_lib.evidence.records import next_numbered
from runbook_lib.evidence.summary import IncidentEvidence, gather
from runbook_lib.incident.deadlines import iso
from runbook_lib.incident.journal import Journal, JournalEvent
from runbook_lib.incident.model import open_obligations, utc
from runbook_lib.incident.store import record_done
from runbook_lib.target.manifest import Manifest
from runbook_lib.target.specs import DEFAULT_WEBHOOK_DEADLINE_S


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
    body = {
        "template": template,
        "message": delivery.path.name,
        "webhook": delivery.webhook,
        "attempts": result.attempts if result else 0,
        "status": result.status if result else None,
        "error": result.error if result else delivery.reason,
        "at": iso(utc()),
    }
    atomic_write_text(note, json.dumps(body, indent=2, sort_keys=True) + "\n")
    Journal.for_incident(directory)(
        {
            "event": JournalEvent.NOTIFY_FAILED,
            **body,
            "note": note.relative_to(directory).as_posix(),
        }
    )
    return note


def _post(
    directory: Path,
    template: str,
    subject: str,
    markdown: str,
    *,
    url: str | None,
    post: Mapping[str, float],
) -> PostResult | None:
    """Post the message; called with no lock held (the network may take its deadline)."""
    if not url:
        return None
    payload = {
        "incident": directory.name,
        "template": template,
        "subject": subject,
        "text": markdown,
        "markdown": markdown,
    }
    return post_json(
        url,
        payload,
        attempts=int(post["attempts"]),
        base_delay_s=post["base_delay_s"],
        timeout_s=post["timeout_s"],
        deadline_s=post["deadline_s"],
    )


def _deliver(
    directory: Path,
    template: str,
    markdown: str,
    *,
    url: str | None,
    reason: str | None,
    result: PostResult | None,
) -> _Delivery:
    (directory / COMMS_DIR).mkdir(exist_ok=True)
    path = next_numbered(directory / COMMS_DIR, template, ".md")
    atomic_write_text(path, markdown)
    delivery = _Delivery(path, redact_url(url) if url else None, result, reason)
    Journal.for_incident(directory)(
        {
            "event": JournalEvent.NOTIFY,
            "template": template,
            "path": path.relative_to(directory).as_posix(),
            "webhook": delivery.webhook,
            "posted": bool(result and result.ok),
            "error": result.error if result else None,
        }
    )
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
    settings = {
        "attempts": attempts,
        "base_delay_s": base_delay_s,
        "timeout_s": timeout_s,
        "deadline_s": deadline_s,
    }
    result = _post(evidence.directory, template, subject, markdown, url=url, post=settings)
    with amending(archive_dir, evidence.directory) as suspicious:
        sent = _deliver(
            evidence.directory, template, markdown, url=url, reason=reason, result=result
        )
        posted = sent.result is not None and sent.result.ok
        note = (
            _record_failure(evidence.directory, template, sent)
            if post and configured and not posted
            else None
        )
        met = _meet_update(
            archive_dir,
            evidence,
            template,
            sent.result,
            sent.path.relative_to(evidence.directory).as_posix(),
        )
    return NotifyReport(
        incident=evidence.incident.id,
        template=template,
        subject=subject,
        path=str(sent.path),
        markdown=markdown,
        posted=posted,
        webhook=sent.webhook,
        post=sent.result,
        failure_note=str(note) if note else None,
        not_posted_because=None if url else reason,
        stakeholder_update_met=met,
        suspicious=list(suspicious),
    )


def _meet_update(
    archive_dir: Path,
    evidence: IncidentEvidence,
    template: str,
    result: PostResult | None,
    relative: str,
) -> bool:
    """A posted progress update meets the 4-hourly stakeholder update (seed 003)."""
    incident = evidence.incident
    if template != "progress" or result is None or not result.ok:
        return False
    if "stakeholder-update" not in open_obligations(incident):
        return False
    record_done(archive_dir, incident.id, "stakeholder-update", note=f"posted {relative}")
    return True
