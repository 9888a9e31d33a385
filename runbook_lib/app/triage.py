"""Interactive triage: facts in, the decision path live, the plan previewed, apply confirmed.

:func:`triage_ui` builds the ipywidgets form that ``00_triage.ipynb`` shows in
JupyterLab; :func:`triage` is the same logic without a frontend (papermill,
tests). Every button calls the library, never notebook code.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runbook_lib.app.assessment import decide_incident
from runbook_lib.app.nb import Session
from runbook_lib.app.session import start as start_session
from runbook_lib.app.triage_form import FormRules, locate
from runbook_lib.base.errors import InvalidInputError
from runbook_lib.decide.tree import Assessment, Decision, rolls_back
from runbook_lib.evidence.layout import DECISION_FILE
from runbook_lib.rollback.engine import OperationReport
from runbook_lib.rollback.operations import apply_rollback, plan_rollback
from runbook_lib.runs import catalog


@dataclass(frozen=True)
class TriageResult:
    """What triage decided, planned and (when confirmed) applied."""

    decision: Decision
    plan_text: str | None
    plan_sha256: str | None
    applied: OperationReport | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "decision": self.decision.to_dict(),
            "plan": self.plan_sha256,
            "plan_text": self.plan_text,
            "applied": self.applied.to_dict() if self.applied else None,
        }


def facts_from(
    crash: bool,
    regression_pct: float | None,
    difference_pct: float | None,
    tolerance_pct: float,
    intentional: str,
) -> Assessment:
    """The decision tree's inputs from the form's (or the parameters') values."""
    known = {"yes": True, "no": False}.get(intentional.lower())
    return Assessment(crash, regression_pct, difference_pct, tolerance_pct, known)


def describe(decision: Decision) -> str:
    """The decision path and reasons as text."""
    lines = ["decision: " + decision.summary, "path: " + " -> ".join(decision.path)]
    lines += [f"  - {reason}" for reason in decision.reasons]
    lines += [f"strategy: {decision.strategy}"] + [f"  * {a}" for a in decision.actions]
    return "\n".join(lines)


def triage(session: Session, facts: Assessment, *, apply: bool = False) -> TriageResult:
    """Decide, record the decision, preview the recommended plan, apply it if asked."""
    decision = decide_incident(session.archive, session.incident_id, facts)
    if not rolls_back(decision.strategy):
        return TriageResult(decision, None, None, None)
    plan = plan_rollback(session.ref, decision.strategy)
    applied = None
    if apply:
        applied = apply_rollback(session.ref, plan.sha256)
    return TriageResult(decision, plan.describe(), plan.sha256, applied)


CHAIN = ("01_assessment", "02_rollback", "03_parity", "04_verification", "06_postmortem")
NOTEBOOKS = catalog.NOTEBOOKS


def run_headless_chain(
    session: Session,
    facts: Assessment,
    *,
    notebooks: Path = NOTEBOOKS,
    on_step: Callable[[str, str], None] | None = None,
) -> list[tuple[str, str]]:
    """Run the chain's notebooks with papermill for this incident; stop at the first failure.

    The assessment gets the triage's facts, so the chain decides as the form did.
    """
    from runbook_lib.runs.run import run_notebook

    parameters: dict[str, dict[str, Any]] = {
        "01_assessment": {
            "crash": facts.crash_or_data_loss,
            "regression_pct": facts.regression_pct or 0.0,
            "difference_pct": facts.difference_pct or 0.0,
            "tolerance_pct": facts.tolerance_pct,
            "intentional": {True: "yes", False: "no"}.get(facts.intentional, "unknown"),  # type: ignore[arg-type]
        }
    }
    results: list[tuple[str, str]] = []
    say = on_step or (lambda _name, _status: None)
    for name in CHAIN:
        say(name, "running")
        outcome = run_notebook(
            notebooks / f"{name}.ipynb",
            session.incident_id,
            archive=session.archive,
            target=session.target,
            parameters=parameters.get(name, {}),
            progress=False,
            lock_timeout=5.0,
        )
        results.append((name, outcome.status))
        say(name, outcome.status)
        if outcome.status != "ok":
            break
    return results


def start(params: Mapping[str, Any]) -> Session | None:
    """The triage notebook's session: an incident only when one is given or deciding headless.

    In JupyterLab (``decide_now`` False) no incident exists until the form's
    Record button opens one, so running the notebook records nothing.
    """
    if not params.get("incident") and not params.get("decide_now"):
        return None
    opened = {k: str(params[k]) for k in ("title", "severity", "kind") if k in params}
    return start_session(params, open_with=opened or None)


def session_table(session: Session | None) -> Any:
    """The triage notebook's incident, target and state (or that none is open yet)."""
    from runbook_lib.app.nb import mapping_table

    if session is None:
        return mapping_table({"incident": "none yet: the form's Record button opens one"})
    return mapping_table(
        {
            "incident": session.incident_id,
            "target": str(session.target),
            "state": session.incident().state,
        }
    )


def triage_ui(session: Session | None, params: Mapping[str, Any] | None = None) -> Any:
    """The ipywidgets form (:mod:`.triage_form` holds its rules)."""
    from runbook_lib.app.triage_widgets import build_form

    manifest, archive = (session.manifest, session.archive) if session else locate(params or {})
    return build_form(FormRules(manifest, archive, session), params or {}, sys.modules[__name__])


def recorded_strategy(session: Session) -> str:
    """The strategy of the incident's recorded decision (``decision.json``).

    Raises:
        InvalidInputError: no decision was recorded, or it needs no rollback.
    """
    path = session.directory / DECISION_FILE
    if not path.is_file():
        raise InvalidInputError(
            f"incident {session.incident_id} has no recorded decision",
            hint="run the assessment (01_assessment) first, or pass the strategy parameter",
        )
    strategy = str(json.loads(path.read_text(encoding="utf-8")).get("strategy", ""))
    if not rolls_back(strategy):
        raise InvalidInputError(
            f"the decision for {session.incident_id} needs no rollback (strategy {strategy!r})",
            hint="pass a strategy explicitly to roll back anyway, or plan "
            f"'runbook rollback plan --strategy {strategy or 'investigate'}' from a shell",
        )
    return strategy
