"""The triage form's widgets, wired to :class:`~runbook_lib.app.triage_form.FormRules`.

Every button calls the library; every enabled state is recomputed from the
rules after each event, so no state is left over from a previous plan.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from runbook_lib.app.triage_form import (
    KINDS,
    SEVERITIES,
    FormRules,
    chain_lines,
    pre,
    rollback_banner,
)
from runbook_lib.decide.tree import decide

_STYLE = {"description_width": "190px"}
_BANNER = "<div style='background:#fff8c5;border:1px solid #d4a72c;padding:6px'><b>{}</b></div>"


class _Form:
    """The widgets and their handlers; ``triage`` is :mod:`runbook_lib.app.triage`."""

    def __init__(self, rules: FormRules, params: Mapping[str, Any], triage: Any) -> None:
        import ipywidgets as w

        self.w, self.rules, self.triage = w, rules, triage
        self._facts(params)
        self._actions()
        self._wire()
        self.on_facts()

    def _text(self, kind: Any, label: str, value: Any) -> Any:
        # continuous_update: the decision follows every keystroke, not only Enter or blur.
        return kind(
            description=label,
            value=value,
            continuous_update=True,
            style=_STYLE,
            layout=self.w.Layout(width="420px"),
        )

    def _choice(self, label: str, options: list[str], value: str) -> Any:
        return self.w.Dropdown(
            options=options,
            value=value,
            description=label,
            style=_STYLE,
            layout=self.w.Layout(width="420px"),
        )

    def _facts(self, params: Mapping[str, Any]) -> None:
        w = self.w
        self.title = self._text(w.Text, "Title", str(params.get("title") or "UnifiedSimEnv issue"))
        self.kind = self._choice("Kind", list(KINDS), str(params.get("kind") or "other"))
        self.crash = w.Checkbox(
            description="Crash or data loss", style=_STYLE, layout=w.Layout(width="420px")
        )
        self.severity = self._choice(
            "Severity", list(SEVERITIES), str(params.get("severity") or "high")
        )
        self.regression = self._text(w.FloatText, "Slower by (%)", 0.0)
        self.difference = self._text(w.FloatText, "Result difference (%)", 0.0)
        self.tolerance = self._text(w.FloatText, "Tolerance (%)", 5.0)
        self.intentional = self._choice("Difference intended?", ["unknown", "yes", "no"], "unknown")
        self.incident = w.HTML()

    def _actions(self) -> None:
        w = self.w
        box = w.Layout(border="1px solid #d0d7de", padding="6px")
        self.decision_out, self.plan_out = w.HTML(layout=box), w.HTML(layout=box)
        self.chain_out, self.stale, self.banner = w.HTML(), w.HTML(), w.HTML()
        self.confirm = w.Checkbox(
            description="I reviewed the plan; apply it to the target",
            style={"description_width": "initial"},
        )
        self.undo_confirm = w.Checkbox(
            description="I want to undo the rollback in effect",
            style={"description_width": "initial"},
        )
        self.plan_button = w.Button(
            description="Record decision and preview plan",
            button_style="info",
            layout=w.Layout(width="300px"),
        )
        self.apply_button = w.Button(description="Apply plan", button_style="danger")
        self.undo_button = w.Button(description="Undo rollback", button_style="warning")
        self.chain_button = w.Button(
            description="Run the headless chain", layout=w.Layout(width="auto")
        )

    def _wire(self) -> None:
        for widget in (
            self.regression,
            self.difference,
            self.tolerance,
            self.intentional,
            self.severity,
            self.title,
            self.kind,
        ):
            widget.observe(self.on_facts, names="value")
        self.crash.observe(self.on_crash, names="value")
        self.confirm.observe(self.on_confirm, names="value")
        self.undo_confirm.observe(self.on_undo_confirm, names="value")
        self.plan_button.on_click(self.on_plan)
        self.apply_button.on_click(self.on_apply)
        self.undo_button.on_click(self.on_undo)
        self.chain_button.on_click(self.on_chain)

    def sync(self) -> None:
        """Every enabled state from the rules, after every event."""
        rules = self.rules
        self.confirm.value, self.undo_confirm.value = rules.confirmed, rules.undo_confirmed
        self.apply_button.disabled = not rules.can_apply()
        self.undo_button.disabled = not rules.can_undo()
        self.chain_button.disabled = rules.session is None
        reason = rules.stale_reason()
        self.stale.value = pre(reason, "#cf222e") if reason else ""
        line = rollback_banner(rules.session)
        self.banner.value = _BANNER.format(line) if line else ""
        shown = "" if line else "none"
        self.undo_confirm.layout.display = self.undo_button.layout.display = shown
        where = rules.session.incident_id if rules.session else "none yet (Record opens one)"
        self.incident.value = f"<b>incident:</b> {where}"

    def on_facts(self, _: Any = None) -> None:
        """New facts: a new decision on screen, the confirmation unticked."""
        self.rules.set_facts(
            self.triage.facts_from(
                self.crash.value,
                self.regression.value or None,
                self.difference.value or None,
                self.tolerance.value,
                self.intentional.value,
            )
        )
        text = self.triage.describe(decide(self.rules.facts))
        self.decision_out.value = pre(f"{text}\nseverity: {self.severity.value}")
        self.sync()

    def on_crash(self, change: Any) -> None:
        """Seed 000: a crash or data loss is critical."""
        if change["new"]:
            self.severity.value = "critical"
        self.on_facts()

    def on_plan(self, _: Any) -> None:
        """Open the incident if needed, record the decision, show its plan."""
        session = self.rules.open_session(self.title.value, self.severity.value, self.kind.value)
        result = self.triage.triage(session, self.rules.facts)
        self.rules.recorded(result.plan_sha256, result.decision.strategy)
        nothing = "the decision needs no rollback: nothing to apply"
        self.plan_out.value = pre(result.plan_text or nothing)
        self.sync()

    def on_confirm(self, change: Any) -> None:
        """The plan was (un)confirmed."""
        self.rules.confirmed = bool(change["new"])
        self.apply_button.disabled = not self.rules.can_apply()

    def on_undo_confirm(self, change: Any) -> None:
        """The undo was (un)confirmed."""
        self.rules.undo_confirmed = bool(change["new"])
        self.undo_button.disabled = not self.rules.can_undo()

    def on_apply(self, _: Any) -> None:
        """Apply the confirmed plan of the decision on screen."""
        if self.rules.can_apply():
            self.plan_out.value += pre(self.rules.apply())
        self.sync()

    def on_undo(self, _: Any) -> None:
        """Revert the rollback in effect."""
        if self.rules.can_undo():
            self.plan_out.value += pre(self.rules.undo())
        self.sync()

    def on_chain(self, _: Any) -> None:
        """Run the chain with its buttons disabled, one line per notebook as it goes."""
        session = self.rules.session
        if session is None:
            return
        self.chain_button.disabled = self.plan_button.disabled = True
        lines: list[str] = []

        def say(line: str) -> None:
            lines.append(line)
            self.chain_out.value = pre("\n".join(lines))

        try:
            chain_lines(
                session,
                lambda step: self.triage.run_headless_chain(
                    session, self.rules.facts, on_step=step
                ),
            )(say)
        finally:
            self.plan_button.disabled = False
            self.sync()

    def view(self) -> Any:
        """The laid-out form."""
        w = self.w
        facts = w.VBox(
            [
                w.HTML("<h3>Facts</h3>"),
                self.incident,
                self.title,
                self.kind,
                self.crash,
                self.severity,
                self.regression,
                self.difference,
                self.tolerance,
                self.intentional,
            ],
            layout=w.Layout(flex="0 0 440px", margin="0 16px 0 0"),
        )
        right = w.VBox(
            [w.HTML("<h3>Decision (seed 000 tree)</h3>"), self.decision_out],
            layout=w.Layout(flex="1 1 auto", min_width="0"),
        )
        actions = w.VBox(
            [
                self.banner,
                w.HBox([self.undo_confirm, self.undo_button]),
                w.HTML("<h3>Plan</h3>"),
                self.plan_button,
                self.plan_out,
                self.stale,
                self.confirm,
                w.HBox([self.apply_button, self.chain_button]),
                self.chain_out,
            ]
        )
        return w.VBox([w.HBox([facts, right]), actions])


def build_form(rules: FormRules, params: Mapping[str, Any], triage: Any) -> Any:
    """The form: facts, live decision, plan, confirmed apply, banner with undo, chain.

    ``triage`` is :mod:`runbook_lib.app.triage` (passed in: it imports this module).
    """
    return _Form(rules, params, triage).view()
