"""The seeds' deadlines for an incident, computed from its timestamps.

* A critical incident needs a tracking issue within 1 h and a root-cause
  analysis within 24 h of being opened (seed 000 §3.1).
* While a rollback runs, stakeholders get a status update every 4 h: the first
  4 h after the rollback started, each next one 4 h after the previous update,
  until the rollback is complete (seed 003 Communication Plan, External 1).
* Management gets a formal report within 24 h of the rollback's completion
  (seed 003 Communication Plan, External 3).

Everything here is a pure function of a :class:`Timeline` and a clock.
"""

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any, Literal, NamedTuple

DeadlineStatus = Literal["due", "overdue", "met"]
_HOUR = timedelta(hours=1)
UPDATE_EVERY = 4 * _HOUR


class Obligation(NamedTuple):
    """Something the seeds require by a deadline."""

    name: str
    description: str
    source: str


OBLIGATIONS: dict[str, Obligation] = {
    o.name: o
    for o in (
        Obligation(
            "tracking-issue",
            "open a tracking issue labelled critical within 1 h",
            "seed 000 §3.1 step 2",
        ),
        Obligation(
            "root-cause-analysis", "root-cause analysis within 24 h", "seed 000 §3.1 step 3"
        ),
        Obligation(
            "stakeholder-update",
            "stakeholder status update every 4 h during the rollback",
            "seed 003 Communication Plan, External 1",
        ),
        Obligation(
            "management-report",
            "formal report to management within 24 h of rollback completion",
            "seed 003 Communication Plan, External 3",
        ),
    )
}


class Timeline(NamedTuple):
    """The facts of an incident that its deadlines depend on (all UTC)."""

    severity: str
    opened_at: datetime
    rollback_started: datetime | None = None
    rollback_completed: datetime | None = None
    done: Mapping[str, tuple[datetime, ...]] = MappingProxyType({})

    def first_done(self, obligation: str) -> datetime | None:
        """When ``obligation`` was first met."""
        return min(self.done.get(obligation, ()), default=None)


class Deadline(NamedTuple):
    """One obligation's deadline and where it stands.

    Attributes:
        obligation: Key of :data:`OBLIGATIONS`.
        description: What must be done, for people.
        due_at: When it must be done by.
        status: ``met``, ``due`` (not done, still in time) or ``overdue``.
        met_at: When it was done, if it was.
        late: Met, but after ``due_at``.
        source: The seed text that asks for it.
    """

    obligation: str
    description: str
    due_at: datetime
    status: DeadlineStatus
    met_at: datetime | None = None
    late: bool = False
    source: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (ISO 8601 UTC timestamps)."""
        return {
            "obligation": self.obligation,
            "description": self.description,
            "due_at": iso(self.due_at),
            "status": self.status,
            "met_at": iso(self.met_at) if self.met_at else None,
            "late": self.late,
            "source": self.source,
        }


def iso(moment: datetime) -> str:
    """``moment`` in UTC, ISO 8601, to the second."""
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def _deadline(name: str, due_at: datetime, met_at: datetime | None, now: datetime) -> Deadline:
    spec = OBLIGATIONS[name]
    if met_at is not None:
        return Deadline(name, spec.description, due_at, "met", met_at, met_at > due_at, spec.source)
    status: DeadlineStatus = "due" if now <= due_at else "overdue"
    return Deadline(name, spec.description, due_at, status, source=spec.source)


def _update_deadlines(timeline: Timeline, now: datetime) -> list[Deadline]:
    start, end = timeline.rollback_started, timeline.rollback_completed
    if start is None:
        return []
    deadlines = []
    previous = start
    for update in sorted(timeline.done.get("stakeholder-update", ())):
        deadlines.append(_deadline("stakeholder-update", previous + UPDATE_EVERY, update, now))
        previous = update
    next_due = previous + UPDATE_EVERY
    # An update is owed only if it falls due while the rollback still runs.
    if end is None or next_due < end:
        deadlines.append(_deadline("stakeholder-update", next_due, None, now))
    return deadlines


def compute_deadlines(timeline: Timeline, now: datetime) -> list[Deadline]:
    """Every deadline the timeline has so far, with its status at ``now``, soonest first."""
    deadlines = []
    if timeline.severity == "critical":
        for name, hours in (("tracking-issue", 1), ("root-cause-analysis", 24)):
            due_at = timeline.opened_at + hours * _HOUR
            deadlines.append(_deadline(name, due_at, timeline.first_done(name), now))
    deadlines.extend(_update_deadlines(timeline, now))
    if timeline.rollback_completed is not None:
        due_at = timeline.rollback_completed + 24 * _HOUR
        met = timeline.first_done("management-report")
        deadlines.append(_deadline("management-report", due_at, met, now))
    return sorted(deadlines, key=lambda d: d.due_at)


def open_obligations(timeline: Timeline) -> list[str]:
    """The obligations that can be met now (one-off ones only until they are met)."""
    names = []
    if timeline.severity == "critical":
        names += [n for n in ("tracking-issue", "root-cause-analysis") if n not in timeline.done]
    if timeline.rollback_started is not None and timeline.rollback_completed is None:
        names.append("stakeholder-update")
    if timeline.rollback_completed is not None and "management-report" not in timeline.done:
        names.append("management-report")
    return names
