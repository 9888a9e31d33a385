"""The triage form's rules, so that what it shows can never contradict what Apply does.

* The confirmation unticks on any change of the facts and after every apply
  or undo: each plan is confirmed on its own.
* Apply is enabled only for a confirmed plan of the decision now on screen;
  a plan for another strategy says so ("this plan is for code; record again").
* A banner shows the rollback in effect (strategy, plan, since when), with
  Undo behind its own confirmation.
* Ticking "Crash or data loss" sets the severity to critical (seed 000).
* No incident is opened until Record is pressed (then with the form's title,
  severity and kind); text fields update on every keystroke.
* The headless-chain button is disabled while the chain runs, shows each
  notebook as it starts and ends, and ends with the paths to look at.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from runbook_lib.app.locations import Locations
from runbook_lib.app.session import Session
from runbook_lib.base.errors import InvalidInputError
from runbook_lib.base.timefmt import utc_time
from runbook_lib.decide.tree import Assessment, decide
from runbook_lib.incident.model import KINDS, SEVERITIES
from runbook_lib.incident.ref import IncidentRef
from runbook_lib.incident.store import open_incident
from runbook_lib.rollback.operations import apply_rollback, undo_rollback
from runbook_lib.target.manifest import Manifest, load_manifest

_PRE = "white-space:pre-wrap;word-break:normal;overflow-wrap:break-word;margin:0"


def pre(text: str, color: str = "") -> str:
    """``text`` as preformatted HTML that wraps at word boundaries."""
    # Wrapped at word boundaries (JupyterLab's output <pre> breaks words mid-way).
    tint = f";color:{color}" if color else ""
    return f"<pre style='{_PRE}{tint}'>{html.escape(text)}</pre>"


def locate(params: Mapping[str, Any]) -> tuple[Manifest, Path]:
    """The target and archive of a notebook's parameters, without opening an incident."""
    given = Locations(_path(params.get("target")), _path(params.get("archive")))
    manifest = load_manifest(given.resolve_target())
    return manifest, given.resolve_archive(target=manifest.root).resolve()


def _path(value: Any) -> Path | None:
    return Path(str(value)) if value else None


def rollback_banner(session: Session | None) -> str:
    """The rollback in effect for the form's incident, as one line ("" when none is)."""
    if session is None:
        return ""
    from runbook_lib.rollback.in_effect import applied_rollback

    applied = applied_rollback(session.directory)
    if applied is None:
        return ""
    since = utc_time(applied.since, seconds=True)
    return f"rollback in effect: {applied.strategy}, plan {applied.plan[:12]}, since {since}"


class FormRules:
    """The form's state and rules, free of widgets (tests drive it directly)."""

    def __init__(self, manifest: Manifest, archive: Path, session: Session | None) -> None:
        """Start on ``session`` (``None``: an incident is opened by :meth:`record`)."""
        self.manifest, self.archive, self.session = manifest, archive, session
        self.plan: str | None = None
        self.plan_strategy: str | None = None
        self.confirmed = False
        self.undo_confirmed = False
        self.facts = Assessment()

    def current_strategy(self) -> str:
        """The strategy of the decision the facts lead to now."""
        return decide(self.facts).strategy

    def set_facts(self, facts: Assessment) -> None:
        """New facts: the confirmation no longer holds."""
        self.facts, self.confirmed = facts, False

    def stale_reason(self) -> str:
        """Why the plan shown may not be applied now ("" when it may)."""
        if self.plan is None:
            return ""
        if self.plan_strategy != self.current_strategy():
            return (
                f"this plan is for {self.plan_strategy}; the decision now says "
                f"{self.current_strategy()}: record again"
            )
        return ""

    def can_apply(self) -> bool:
        """A confirmed plan of the decision on screen, with no rollback in effect."""
        return bool(
            self.plan
            and self.confirmed
            and not self.stale_reason()
            and not rollback_banner(self.session)
        )

    def can_undo(self) -> bool:
        """A rollback is in effect and its undo is confirmed."""
        return bool(self.undo_confirmed and rollback_banner(self.session))

    def open_session(self, title: str, severity: str, kind: str) -> Session:
        """The form's incident, opened now if it has none yet."""
        if self.session is None:
            incident = open_incident(self.archive, title, severity, kind)
            self.session = Session(self.manifest, self.archive, incident.id)
        return self.session

    def recorded(self, plan: str | None, strategy: str) -> None:
        """A decision was recorded and its plan (if any) previewed."""
        self.plan, self.plan_strategy, self.confirmed = plan, strategy, False

    def _ref(self, session: Session) -> IncidentRef:
        return IncidentRef(session.target, self.archive, session.incident_id)

    def apply(self) -> str:
        """Apply the confirmed plan; the confirmation is spent."""
        if self.session is None or self.plan is None:
            raise InvalidInputError("no plan to apply: record the decision first")
        report = apply_rollback(self._ref(self.session), self.plan)
        self.confirmed = False
        checks = "; ".join(f"{c.name} {c.status}" for c in report.checks)
        return f"applied plan {report.plan[:12]}: {checks or 'no checks'}"

    def undo(self) -> str:
        """Revert the rollback in effect; both confirmations are spent."""
        if self.session is None:
            raise InvalidInputError("no incident: nothing to undo")
        report = undo_rollback(self._ref(self.session))
        self.undo_confirmed = self.confirmed = False
        return "reverted: " + "; ".join(report.steps_done)


def chain_lines(
    session: Session, run: Callable[[Callable[[str, str], None]], list[tuple[str, str]]]
) -> Callable[[Callable[[str], None]], None]:
    """Run the chain, reporting each notebook, then where to look (used by the form)."""

    def go(say: Callable[[str], None]) -> None:
        results = run(lambda name, status: say(f"{status:<8} {name}"))
        runs = session.directory / "runs"
        say(f"incident {session.incident_id}: {len(results)} notebook(s) run")
        for path in sorted(runs.glob("*.html")):
            say(f"  {path}")
        say(f"report: runbook archive report {session.incident_id} --archive {session.archive}")

    return go


__all__ = [
    "KINDS",
    "SEVERITIES",
    "FormRules",
    "chain_lines",
    "locate",
    "pre",
    "rollback_banner",
]
