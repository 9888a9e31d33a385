"""Seed 000 §9, recovery from rollback: test the fix, then remove the rollback and monitor.

The fix itself is the developers' (a new commit, a config change); recovery
proves it with parity before anything is undone. Only a PASS removes the
rollback configuration; then the monitoring run watches for recurrence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from runbook_lib.app.nb import Session
from runbook_lib.base.report import CheckResult
from runbook_lib.incident.store import advance_incident, load_incident
from runbook_lib.rollback.engine import OperationReport
from runbook_lib.rollback.operations import rollback_status, undo_rollback


@dataclass(frozen=True)
class RecoveryReport:
    """What recovery did: the parity verdict it relied on, the undo, the monitoring."""

    verdict: str
    undone: OperationReport | None
    monitoring: CheckResult | None
    state: str
    reason: str

    @property
    def recovered(self) -> bool:
        """True when the rollback was removed and monitoring did not fail."""
        return self.undone is not None and (self.monitoring is None or self.monitoring.ok)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "verdict": self.verdict,
            "recovered": self.recovered,
            "state": self.state,
            "reason": self.reason,
            "undone": self.undone.to_dict() if self.undone else None,
            "monitoring": self.monitoring.to_dict() if self.monitoring else None,
        }


def recover(session: Session, verdict: str, *, monitor: bool = True) -> RecoveryReport:
    """Undo the rollback when the fix's parity verdict is PASS, then run the monitoring check."""
    state = session.incident().state
    if verdict != "PASS":
        reason = f"parity is {verdict}: the fix is not proven, the rollback stays"
        return RecoveryReport(verdict, None, None, state, reason)
    status = rollback_status(session.ref)
    last = status["last_completed"]
    undone = None
    if last and last["operation"] == "apply":
        undone = undo_rollback(session.ref)
    monitoring = None
    if monitor and session.manifest.env is not None:
        from runbook_lib.verify.checks.env import check_monitoring

        monitoring = check_monitoring(session.manifest)
    state = load_incident(session.archive, session.incident_id).state
    if state == "verified" and (monitoring is None or monitoring.ok):
        state = advance_incident(
            session.archive,
            session.incident_id,
            "recovered",
            note="fix proven by parity; rollback removed",
        ).state
    reason = "parity PASS: rollback removed" if undone else "parity PASS: no rollback to remove"
    return RecoveryReport(verdict, undone, monitoring, state, reason)
