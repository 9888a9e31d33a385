"""Numbered records of an incident: its decisions and check results, each indexed and sealed."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from runbook_lib.base.fsutil import atomic_write_text
from runbook_lib.evidence import index
from runbook_lib.evidence.amend import amending
from runbook_lib.evidence.layout import CHECKS_DIR, DECISIONS_DIR
from runbook_lib.evidence.seal import now_iso
from runbook_lib.incident.journal import Journal, JournalEvent


def next_numbered(directory: Path, stem: str, suffix: str) -> Path:
    """``directory/<NN>-<stem><suffix>``, NN one above the highest so far (call under a lock)."""
    numbers = [int(p.name[:2]) for p in directory.glob("[0-9][0-9]-*") if p.name[:2].isdigit()]
    return directory / f"{max(numbers, default=0) + 1:02d}-{stem}{suffix}"


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40] or "record"


def _write_record(directory: Path, stem: str, data: Mapping[str, Any]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = next_numbered(directory, _slug(stem), ".json")
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")
    return path


def record_decision(
    archive: Path, incident_dir: Path, decision: Mapping[str, Any], *, source: str
) -> Path:
    """Keep a decision as ``decisions/<NN>-<outcome>.json``, index it, and reseal.

    Args:
        archive: The archive (its index gets a ``decisions`` row).
        incident_dir: The incident's directory.
        decision: The decision as data (``Decision.to_dict()`` or a parity report's decision).
        source: What produced it (``runbook decide``, a notebook, ``parity``).
    """
    decided_at = now_iso()
    with amending(archive, incident_dir):
        body = {"decided_at": decided_at, "source": source, "decision": dict(decision)}
        name = str(decision.get("outcome") or decision.get("scenario") or "decision")
        path = _write_record(incident_dir / DECISIONS_DIR, name, body)
        index.add_decision(archive, incident_dir.name, decided_at, decision)
        Journal.for_incident(incident_dir)(
            {
                "event": JournalEvent.DECISION,
                "outcome": name,
                "summary": decision.get("summary"),
                "strategy": decision.get("strategy"),
                "source": source,
                "path": path.relative_to(incident_dir).as_posix(),
            }
        )
    return path


def record_checks(
    archive: Path, incident_dir: Path, source: str, checks: Iterable[Mapping[str, Any]]
) -> Path:
    """Keep check results as ``checks/<NN>-<source>.json``, index them, and reseal.

    Args:
        archive: The archive (its index gets one ``checks`` row per check).
        incident_dir: The incident's directory.
        source: What produced them (a run, a command, a notebook cell).
        checks: ``CheckResult.to_dict()`` items (name, status, summary, blocking...).
    """
    recorded_at = now_iso()
    items = [dict(check) for check in checks]
    with amending(archive, incident_dir):
        body = {"recorded_at": recorded_at, "source": source, "checks": items}
        path = _write_record(incident_dir / CHECKS_DIR, source, body)
        index.add_checks(archive, incident_dir.name, source, recorded_at, items)
        failed = sum(item.get("status") == "fail" for item in items)
        Journal.for_incident(incident_dir)(
            {
                "event": JournalEvent.CHECKS,
                "source": source,
                "path": path.relative_to(incident_dir).as_posix(),
                "summary": f"{len(items) - failed} of {len(items)} passed",
            }
        )
    return path
