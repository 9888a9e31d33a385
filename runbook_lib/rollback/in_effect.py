"""Which rollback is in effect for an incident: the one answer the form, checks and notebooks use.

It is the plan of the journal's last completed operation when that was an
``apply`` that was not cut short; an undo, an interrupted apply or no apply at
all means none is.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from runbook_lib.incident.journal import Journal, JournalEvent
from runbook_lib.rollback.plans import load_plan


@dataclass(frozen=True)
class AppliedRollback:
    """The rollback in effect: its strategy, its plan's sha256, when its apply ended (ISO)."""

    strategy: str
    plan: str
    since: str


def applied_rollback(directory: Path) -> AppliedRollback | None:
    """The rollback in effect for the incident in ``directory`` (``None``: none is)."""
    records = list(Journal.for_incident(directory).read().records)
    ends = [r for r in records if r.get("event") == JournalEvent.END]
    if not ends or ends[-1].get("operation") != "apply" or ends[-1].get("interrupted"):
        return None
    plan = str(ends[-1]["plan"])
    strategy = load_plan(directory, plan, with_blobs=False).strategy
    return AppliedRollback(strategy=strategy, plan=plan, since=str(ends[-1].get("at", "")))
