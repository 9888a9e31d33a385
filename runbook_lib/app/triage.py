"""Interactive triage: facts in, the decision path live, the plan previewed, apply confirmed.

:func:`triage_ui` builds the ipywidgets form that ``00_triage.ipynb`` shows in
JupyterLab; :func:`triage` is the same logic without a frontend (papermill,
tests). Every button calls the library, never notebook code.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runbook_lib.app.assessment import decide_incident
from runbook_lib.app.nb import Session
from runbook_lib.base.errors import InvalidInputError
from runbook_lib.decide.tree import Assessment, Decision, decide
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
    if decision.strategy in {"none", ""}:
        return TriageResult(decision, None, None, None)
    plan = plan_rollback(session.target, session.archive, session.incident_id, decision.strategy)
    applied = None
    if apply:
        applied = apply_rollback(session.target, session.archive, session.incident_id, plan.sha256)
    return TriageResult(decision, plan.describe(), plan.sha256, applied)


CHAIN = ("01_assessment", "02_rollback", "03_parity", "04_verification", "06_postmortem")
NOTEBOOKS = catalog.NOTEBOOKS


def run_headless_chain(
    session: Session, facts: Assessment, *, notebooks: Path = NOTEBOOKS
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
    for name in CHAIN:
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
        if outcome.status != "ok":
            break
    return results


def triage_ui(session: Session) -> Any:
    """The ipywidgets form: facts, live decision, plan preview, confirmed apply, headless chain."""
    import ipywidgets as w

    style = {"description_width": "190px"}
    layout = w.Layout(width="420px")
    crash = w.Checkbox(description="Crash or data loss", style=style, layout=layout)
    severity = w.Dropdown(
        options=["critical", "high", "medium", "low"],
        value="high",
        description="Severity",
        style=style,
        layout=layout,
    )
    regression = w.FloatText(description="Slower by (%)", value=0.0, style=style, layout=layout)
    difference = w.FloatText(
        description="Result difference (%)", value=0.0, style=style, layout=layout
    )
    tolerance = w.FloatText(description="Tolerance (%)", value=5.0, style=style, layout=layout)
    intentional = w.Dropdown(
        options=["unknown", "yes", "no"],
        description="Difference intended?",
        style=style,
        layout=layout,
    )
    decision_out = w.Output(layout=w.Layout(border="1px solid #d0d7de", padding="6px"))
    plan_out = w.Output(layout=w.Layout(border="1px solid #d0d7de", padding="6px"))
    confirm = w.Checkbox(
        description="I reviewed the plan; apply it to the target",
        value=False,
        style={"description_width": "initial"},
    )
    plan_button = w.Button(
        description="Record decision and preview plan",
        button_style="info",
        layout=w.Layout(width="300px"),
    )
    apply_button = w.Button(description="Apply plan", button_style="danger", disabled=True)
    chain_button = w.Button(
        description="Run the headless chain", button_style="", layout=w.Layout(width="auto")
    )
    state: dict[str, Any] = {}

    def facts() -> Assessment:
        return facts_from(
            crash.value,
            regression.value or None,
            difference.value or None,
            tolerance.value,
            intentional.value,
        )

    def refresh(_: Any = None) -> None:
        decision_out.clear_output()
        with decision_out:
            print(describe(decide(facts())))
            print(f"severity: {severity.value}")

    def on_plan(_: Any) -> None:
        plan_out.clear_output()
        with plan_out:
            result = triage(session, facts())
            state["plan"] = result.plan_sha256
            print(result.plan_text or "the decision needs no rollback: nothing to apply")
        apply_button.disabled = not (state.get("plan") and confirm.value)

    def on_confirm(change: Any) -> None:
        apply_button.disabled = not (state.get("plan") and change["new"])

    def on_apply(_: Any) -> None:
        with plan_out:
            report = apply_rollback(
                session.target, session.archive, session.incident_id, state["plan"]
            )
            print(
                f"applied plan {report.plan[:12]}: "
                + "; ".join(f"{c.name} {c.status}" for c in report.checks)
            )
        apply_button.disabled = True

    def on_chain(_: Any) -> None:
        with plan_out:
            for name, status in run_headless_chain(session, facts()):
                print(f"{status:<7} {name}")

    for widget in (crash, regression, difference, tolerance, intentional, severity):
        widget.observe(refresh, names="value")
    confirm.observe(on_confirm, names="value")
    plan_button.on_click(on_plan)
    apply_button.on_click(on_apply)
    chain_button.on_click(on_chain)
    refresh()
    # A fixed-width facts column: squeezed by the decision text, it would clip its inputs.
    form = w.VBox(
        [w.HTML("<h3>Facts</h3>"), crash, severity, regression, difference, tolerance, intentional],
        layout=w.Layout(flex="0 0 440px", margin="0 16px 0 0"),
    )
    right = w.VBox(
        [w.HTML("<h3>Decision (seed 000 tree)</h3>"), decision_out],
        layout=w.Layout(flex="1 1 auto", min_width="0"),
    )
    actions = w.VBox(
        [
            w.HTML("<h3>Plan</h3>"),
            plan_button,
            plan_out,
            confirm,
            w.HBox([apply_button, chain_button]),
        ]
    )
    return w.VBox([w.HBox([form, right]), actions])


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
    if strategy in {"", "none"}:
        raise InvalidInputError(
            f"the decision for {session.incident_id} needs no rollback (strategy {strategy!r})",
            hint="pass a strategy explicitly to roll back anyway",
        )
    return strategy
