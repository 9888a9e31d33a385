"""Incidents: an ID, a severity and kind, a state machine with timestamps, and deadlines.

Pure values and changes; where incidents are kept is :mod:`runbook_lib.incident.store`.
An incident's states follow the seeds' procedure::

    opened -> assessed -> rolled-back -> verified -> recovered -> closed

with the side paths real operations need (:data:`TRANSITIONS`):

* ``assessed -> closed``: the decision needs no rollback (document, monitor).
* ``assessed -> assessed``: new facts, assessed again.
* ``rolled-back -> rolled-back``: a further rollback step was applied (seed 003
  rolls back in phases; seed 000 may escalate from env var to global). The
  rollback's start, which the deadlines count from, stays the first one.
* ``rolled-back -> assessed``: the rollback was undone because it did not help.
* ``verified -> closed``: the rollback itself is the resolution (seed 000 §3.1
  "fix or document as known limitation").
* ``closed`` is final; a recurrence is a new incident.

Every incident carries the seeds' deadlines (:mod:`runbook_lib.incident.deadlines`):
:func:`due` lists them, :func:`mark_done` records when one was met.
"""

import os
import re
from datetime import UTC, datetime
from typing import Any, NamedTuple, Self

from runbook_lib.base.errors import InvalidInputError
from runbook_lib.incident.deadlines import OBLIGATIONS, Deadline, Timeline, iso
from runbook_lib.incident.deadlines import compute_deadlines as _compute_deadlines
from runbook_lib.incident.deadlines import open_obligations as _open_obligations

SEVERITIES = ("critical", "high", "medium", "low")


KINDS = (
    "crash",
    "data-loss",
    "perf-regression",
    "result-difference",
    "implementation-failure",
    "deployment-failure",
    "data-corruption",
    "other",
)


STATES = ("opened", "assessed", "rolled-back", "verified", "recovered", "closed")


TRANSITIONS: dict[str, tuple[str, ...]] = {
    "opened": ("assessed",),
    "assessed": ("assessed", "rolled-back", "closed"),
    "rolled-back": ("rolled-back", "verified", "assessed"),
    "verified": ("recovered", "closed"),
    "recovered": ("closed",),
    "closed": (),
}


SCHEMA = 1


_ID = re.compile(r"^INC-(\d{8})-(\d{4})-[0-9a-f]{4}$")


_MAX_TITLE = 200


class Transition(NamedTuple):
    """The incident entered ``state`` at ``at`` (UTC)."""

    state: str
    at: datetime
    note: str = ""


class Completion(NamedTuple):
    """An obligation (a key of :data:`~.deadlines.OBLIGATIONS`) was met at ``at``."""

    obligation: str
    at: datetime
    note: str = ""


class Incident(NamedTuple):
    """One incident: what happened, where it stands and what was done when."""

    id: str
    title: str
    severity: str
    kind: str
    history: tuple[Transition, ...]
    completions: tuple[Completion, ...] = ()

    @property
    def state(self) -> str:
        """The current state."""
        return self.history[-1].state

    @property
    def opened_at(self) -> datetime:
        """When the incident was opened."""
        return self.history[0].at

    def reached(self, state: str, *, after: datetime | None = None) -> datetime | None:
        """When the incident first entered ``state`` (at or after ``after``), if it did."""
        for step in self.history:
            if step.state == state and (after is None or step.at >= after):
                return step.at
        return None

    def timeline(self) -> Timeline:
        """The timestamps its deadlines depend on."""
        start = self.reached("rolled-back")
        ends = [self.reached(s, after=start) for s in ("verified", "recovered")] if start else []
        done: dict[str, tuple[datetime, ...]] = {}
        for completion in self.completions:
            done[completion.obligation] = (*done.get(completion.obligation, ()), completion.at)
        completed = min((end for end in ends if end is not None), default=None)
        return Timeline(self.severity, self.opened_at, start, completed, done)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (ISO 8601 UTC timestamps)."""
        history = [{"state": t.state, "at": iso(t.at), "note": t.note} for t in self.history]
        completions = [
            {"obligation": c.obligation, "at": iso(c.at), "note": c.note} for c in self.completions
        ]
        return {
            "schema": SCHEMA,
            "id": self.id,
            "title": self.title,
            "severity": self.severity,
            "kind": self.kind,
            "state": self.state,
            "history": history,
            "completions": completions,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        """Rebuild from :meth:`to_dict` output.

        Raises:
            KeyError, ValueError, TypeError: the data is not an incident record.
        """
        history = tuple(
            Transition(t["state"], _parse_time(t["at"]), t.get("note", "")) for t in data["history"]
        )
        completions = tuple(
            Completion(c["obligation"], _parse_time(c["at"]), c.get("note", ""))
            for c in data.get("completions", ())
        )
        if not history or any(t.state not in STATES for t in history):
            raise ValueError("history is empty or names an unknown state")
        validate_incident_id(data["id"])
        return cls(data["id"], data["title"], data["severity"], data["kind"], history, completions)


def _parse_time(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError(f"timestamp {text!r} has no time zone")
    return moment.astimezone(UTC)


def utc(now: datetime | None = None) -> datetime:
    """``now`` as an aware UTC datetime (the current time, to the second, when ``None``).

    Raises:
        InvalidInputError: ``now`` is naive (its time zone is unknown).
    """
    if now is None:
        return datetime.now(UTC).replace(microsecond=0)
    if now.tzinfo is None:
        raise InvalidInputError(f"time {now} has no time zone", hint="pass an aware datetime")
    return now.astimezone(UTC)


def new_incident_id(now: datetime | None = None, suffix: str | None = None) -> str:
    """An ID like ``INC-20261123-0612-3fa2``: UTC date and time to the minute, 4 random hex."""
    stamp = utc(now).strftime("%Y%m%d-%H%M")
    return validate_incident_id(f"INC-{stamp}-{suffix or os.urandom(2).hex()}")


def validate_incident_id(text: str) -> str:
    """Return ``text`` if it is a well-formed incident ID; refuse anything else.

    Nothing that could name another path (separators, ``..``, absolute paths)
    passes, so an ID is safe to join to the archive directory.

    Raises:
        InvalidInputError: ``text`` is not of the form ``INC-YYYYMMDD-HHMM-xxxx``.
    """
    match = _ID.fullmatch(text) if isinstance(text, str) else None
    valid = match is not None
    if match is not None:
        try:
            # The constructor refuses what strptime would (no month 13, no 30 February)
            # without importing _strptime, which every 'rollback now' would pay for.
            day, minute = match.group(1), match.group(2)
            datetime(int(day[:4]), int(day[4:6]), int(day[6:]), int(minute[:2]), int(minute[2:]))
        except ValueError:
            valid = False
    if not valid:
        raise InvalidInputError(
            f"{text!r} is not an incident ID",
            hint="IDs look like INC-20261123-0612-3fa2; 'runbook incident list' shows them",
        )
    return text


def looks_like_incident_id(name: str) -> bool:
    """Whether ``name`` has the form of an incident ID (other directories may sit beside)."""
    return _ID.fullmatch(name) is not None


def validate_choice(value: str, choices: tuple[str, ...], what: str) -> str:
    """Return ``value`` if it is one of ``choices``.

    Raises:
        InvalidInputError: it is not (the message names ``what`` and lists the choices).
    """
    if value not in choices:
        raise InvalidInputError(f"unknown {what} {value!r}", hint=f"one of: {', '.join(choices)}")
    return value


def validate_title(title: str) -> str:
    """The title without surrounding blanks, if it is one short non-empty line.

    Raises:
        InvalidInputError: it is empty, has several lines or is too long.
    """
    title = title.strip()
    if not title or "\n" in title or len(title) > _MAX_TITLE:
        raise InvalidInputError(
            f"incident title must be one non-empty line of at most {_MAX_TITLE} characters",
            hint="describe the symptom briefly, e.g. 'unified env crashes on reset'",
        )
    return title


def transition(
    incident: Incident, state: str, now: datetime | None = None, note: str = ""
) -> Incident:
    """The incident after moving to ``state``; an illegal move is refused.

    Raises:
        InvalidInputError: ``state`` is unknown, not allowed from the current state
            (the message lists the allowed ones), or ``now`` precedes the last change.
    """
    validate_choice(state, STATES, "incident state")
    allowed = TRANSITIONS[incident.state]
    if state not in allowed:
        raise InvalidInputError(
            f"incident {incident.id} cannot go from {incident.state} to {state}",
            hint=f"from {incident.state}: {', '.join(allowed) or 'nothing, it is closed'}",
        )
    moment = utc(now)
    last = incident.history[-1].at
    if moment < last:
        raise InvalidInputError(f"time {iso(moment)} is before the last change at {iso(last)}")
    return incident._replace(history=(*incident.history, Transition(state, moment, note)))


def mark_done(
    incident: Incident, obligation: str, now: datetime | None = None, note: str = ""
) -> Incident:
    """The incident with ``obligation`` recorded as met at ``now``.

    Raises:
        InvalidInputError: the obligation is unknown, does not apply to this
            incident now or was already met (the message lists the open ones).
    """
    validate_choice(obligation, tuple(OBLIGATIONS), "obligation")
    open_now = _open_obligations(incident.timeline())
    if obligation not in open_now:
        raise InvalidInputError(
            f"{obligation} is not open for incident {incident.id} "
            f"({incident.severity}, {incident.state})",
            hint=f"open obligations now: {', '.join(open_now) or 'none'}",
        )
    moment = utc(now)
    if moment < incident.opened_at:
        raise InvalidInputError(f"time {iso(moment)} is before the incident was opened")
    done = Completion(obligation, moment, note)
    return incident._replace(completions=(*incident.completions, done))


def due(incident: Incident, now: datetime | None = None) -> list[Deadline]:
    """The incident's deadlines with their status (due, overdue, met) at ``now``."""
    return _compute_deadlines(incident.timeline(), utc(now))


def open_obligations(incident: Incident) -> list[str]:
    """The obligations :func:`mark_done` accepts for this incident now."""
    return _open_obligations(incident.timeline())
