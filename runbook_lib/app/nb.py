"""What the runbook notebooks call: a session on one incident, and tables to show.

Notebooks stay thin (a parameters cell, then a few calls per cell); every step
they show is a library function that tests reach without a notebook. The
runner gives each kernel ``RUNBOOK_TARGET``, ``RUNBOOK_ARCHIVE`` and
``RUNBOOK_INCIDENT``, so a notebook run by ``runbook run`` needs no paths; in
JupyterLab, set the parameters or those variables.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runbook_lib.app.session import Session, start
from runbook_lib.base.errors import CheckFailedError
from runbook_lib.base.report import CheckResult

# The notebooks' facade: what they may call, the session included.
__all__ = [
    "BlockingCheckFailed",
    "FigureView",
    "MarkdownFile",
    "Session",
    "Table",
    "Verdict",
    "applied_strategy",
    "cell_text",
    "checks_table",
    "conclude_verification",
    "fail_if_blocking",
    "figure",
    "git_table",
    "journal_table",
    "mapping_table",
    "markdown_file",
    "package_service_table",
    "parity_table",
    "resolution_table",
    "results_verdict",
    "speed_verdict",
    "start",
    "verdicts",
]

_STATUS_STYLE = {
    "pass": "#1a7f37",
    "fail": "#cf222e",
    "warn": "#9a6700",
    "skip": "#57606a",
    "PASS": "#1a7f37",
    "FAIL": "#cf222e",
    "INCONCLUSIVE": "#9a6700",
}


# What a reviewer reads instead of a Python repr ("None", "{}", "[]").
_EMPTY = "—"
_REPRS = {"None", "{}", "[]", "()"}


def cell_text(value: Any) -> str:
    """A value as a reviewer reads it: no Python reprs, nested values as ``k: v`` lists."""
    if value is None or (isinstance(value, str) and value.strip() in _REPRS):
        return _EMPTY
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Mapping):
        parts = [f"{k}: {cell_text(v)}" for k, v in value.items()]
        return "; ".join(parts)[:300] or _EMPTY
    if isinstance(value, list | tuple | set | frozenset):
        return ", ".join(cell_text(v) for v in value)[:300] or _EMPTY
    if isinstance(value, Verdict):
        return value.text
    return str(value) if str(value) != "" else _EMPTY


@dataclass(frozen=True)
class Verdict:
    """One verdict ("results: PASS", "speed: REGRESSION +53.7%"), coloured on its own."""

    aspect: str
    outcome: str
    good: bool | None  # None: neither good nor bad (inconclusive)

    @property
    def text(self) -> str:
        """``aspect: outcome``."""
        return f"{self.aspect}: {self.outcome}"

    def html(self) -> str:
        """The outcome in green (good), red (bad) or amber (inconclusive)."""
        color = {True: "#1a7f37", False: "#cf222e", None: "#9a6700"}[self.good]
        return (
            f'{html.escape(self.aspect)}: <b style="color:{color}">{html.escape(self.outcome)}</b>'
        )

    def _repr_html_(self) -> str:
        return f"<p style='font-size:1.1em'>{self.html()}</p>"

    def __repr__(self) -> str:
        return self.text


class Table:
    """Rows shown as an HTML table in a notebook and as text elsewhere."""

    def __init__(
        self,
        rows: Sequence[Mapping[str, Any]],
        title: str = "",
        columns: Sequence[str] | None = None,
    ) -> None:
        """Keep ``rows`` (dicts); ``columns`` defaults to the keys of the first row."""
        self.rows = [dict(row) for row in rows]
        self.title = title
        self.columns = list(columns or (self.rows[0].keys() if self.rows else []))

    @staticmethod
    def _cell(value: Any) -> str:
        if isinstance(value, Verdict):
            return value.html()
        text = html.escape(cell_text(value))
        color = _STATUS_STYLE.get(str(value))
        return f'<b style="color:{color}">{text}</b>' if color else text

    def _repr_html_(self) -> str:
        head = "".join(f"<th style='text-align:left'>{html.escape(c)}</th>" for c in self.columns)
        body = "".join(
            "<tr>"
            + "".join(
                f"<td style='text-align:left'>{self._cell(r.get(c, ''))}</td>" for c in self.columns
            )
            + "</tr>"
            for r in self.rows
        )
        caption = f"<caption style='text-align:left'><b>{html.escape(self.title)}</b></caption>"
        return f"<table>{caption if self.title else ''}<tr>{head}</tr>{body}</table>"

    def __str__(self) -> str:
        lines = [self.title] if self.title else []
        lines.append(" | ".join(self.columns))
        lines += [" | ".join(cell_text(r.get(c, "")) for c in self.columns) for r in self.rows]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)


def checks_table(results: Iterable[CheckResult], title: str = "Checks") -> Table:
    """Check results as a table: name, status, blocking, summary, seconds."""
    rows = [
        {
            "check": r.name,
            "status": r.status,
            "blocking": r.blocking,
            "summary": r.summary,
            "seconds": round(r.duration_s, 2),
        }
        for r in results
    ]
    return Table(rows, title)


def mapping_table(data: Mapping[str, Any], title: str = "") -> Table:
    """A mapping as a two-column table."""
    return Table([{"item": k, "value": v} for k, v in data.items()], title)


def journal_table(session: Session) -> Table:
    """The incident's journal: when, what, which step, outcome."""
    from runbook_lib.incident.journal import Journal

    rows = []
    for record in Journal.for_incident(session.directory).read().records:
        check = record.get("check") or {}
        rows.append(
            {
                "at": record.get("at", ""),
                "event": record.get("event", ""),
                "operation": record.get("operation", ""),
                "step": record.get("step", ""),
                "what": record.get("title") or record.get("action") or "",
                "result": record.get("status") or check.get("status", ""),
            }
        )
    return Table(rows, "Journal")


def fail_if_blocking(results: Iterable[CheckResult]) -> None:
    """Stop the run (an exception papermill records) when a blocking check failed."""
    failed = [r for r in results if r.blocking and r.status == "fail"]
    if failed:
        names = ", ".join(f"{r.name} ({r.summary})" for r in failed)
        raise BlockingCheckFailed(f"blocking check(s) failed: {names}")


def conclude_verification(session: Session, results: Sequence[CheckResult]) -> str:
    """Fail on a blocking check; otherwise mark a rolled-back incident ``verified``."""
    from runbook_lib.incident.store import advance_incident

    fail_if_blocking(results)
    state = session.incident().state
    if state == "rolled-back":
        passed = sum(r.status == "pass" for r in results)
        note = f"verification: {passed}/{len(results)} checks passed, no blocking failure"
        state = advance_incident(session.archive, session.incident_id, "verified", note=note).state
    return state


class BlockingCheckFailed(CheckFailedError):
    """A blocking verification check failed; the notebook run must fail."""


class FigureView:
    """A matplotlib figure that notebooks show inline without pyplot's backend."""

    def __init__(self, figure: Any) -> None:
        """Wrap ``figure`` (a :class:`matplotlib.figure.Figure`)."""
        self.figure = figure

    def _repr_png_(self) -> bytes:
        """The PNG the parity run archived of this figure, else one drawn now."""
        import io

        from runbook_lib.parity.plots import written_png

        written = written_png(self.figure)
        if written is not None:  # the archived plot itself, not a second drawing of it
            return written
        buffer = io.BytesIO()
        self.figure.savefig(buffer, format="png", dpi=100)
        return buffer.getvalue()

    def __repr__(self) -> str:
        title = self.figure.axes[0].get_title() if self.figure.axes else ""
        return f"<figure: {title}>"


def figure(fig: Any) -> FigureView:
    """Show a figure inline (PNG) in a notebook."""
    return FigureView(fig)


def applied_strategy(session: Session) -> str | None:
    """The strategy of the rollback in effect (the last applied plan), if any."""
    from runbook_lib.verify.registry import rollback_in_effect

    return rollback_in_effect(session.directory)


def git_table(state: Any) -> Table:
    """The git facts of an assessment (:class:`runbook_lib.app.assessment.SystemState`)."""
    target = "exists" if state.stable_ref_exists else "MISSING"
    return mapping_table(
        {
            "HEAD": state.git_describe,
            "commit": state.git_head[:12],
            "local changes": len(state.git_dirty),
            "rollback target": f"{state.stable_ref} ({target})",
        },
        "Git",
    )


def package_service_table(state: Any) -> Table:
    """The package versions and the service's state of an assessment."""
    keys = ("running", "pid", "url", "version", "detail")
    service = {f"service {k}": v for k, v in state.service.items() if k in keys}
    return mapping_table({**state.packages, **service}, "Package and service")


def results_verdict(report: Any) -> Verdict:
    """Whether the candidate's results match the legacy env's: "results: PASS"."""
    good = {"PASS": True, "FAIL": False}.get(str(report.verdict))
    return Verdict("results", str(report.verdict), good)


def speed_verdict(outcome: Any) -> Verdict:
    """The candidate's speed against the legacy env: "speed: REGRESSION +53.7%".

    A slowdown counts only when its 95% interval lies above zero (timing
    noise is no regression); a baseline run holds no comparable timings.
    """
    from runbook_lib.parity.decision import speed_outcome

    report = outcome.report
    timed = not outcome.baseline
    text, good = speed_outcome(
        report.throughput_regression_pct if timed else None,
        tuple(report.throughput_ci_pct) if timed else None,
    )
    return Verdict("speed", text, good)


def verdicts(outcome: Any) -> Table:
    """The two verdicts of a parity run, each coloured on its own."""
    rows = [{"verdict": results_verdict(outcome.report)}, {"verdict": speed_verdict(outcome)}]
    return Table(rows, "Verdicts")


def parity_table(outcome: Any) -> Table:
    """A parity outcome's verdicts, agreement, throughput and decision."""
    report = outcome.report
    low, high = report.throughput_ci_pct
    throughput = (
        "not measured (baseline)"
        if outcome.baseline
        else f"{report.throughput_regression_pct:+.1f}% slower (95% CI {low:+.1f}% .. {high:+.1f}%)"
    )
    divergence = report.first_divergence
    return mapping_table(
        {
            "results": results_verdict(report),
            "speed": speed_verdict(outcome),
            "why": report.reason,
            "step agreement": f"{report.step_agreement:.2%}",
            "throughput regression": throughput,
            "first divergence": divergence if divergence else "none: every step agreed",
            "decision": outcome.decision.summary,
        },
        "Parity",
    )


def metrics_table(report: Any) -> Table:
    """The parity metrics with labelled units: means in their own unit, the rest in percent."""
    rows = []
    for m in report.metrics.values():
        fraction = m.metric.endswith("probability")  # a share of requests, read in percent
        mean = "{:.2%}" if fraction else "{:.2f}"
        rows.append(
            {
                "metric": m.metric,
                "unit of the means": "% of requests" if fraction else "per episode",
                "legacy mean": mean.format(m.legacy_mean),
                "candidate mean": mean.format(m.candidate_mean),
                "difference (%)": f"{m.relative_difference:+.2%}",
                "95% CI (%)": f"{m.ci_low:+.2%} .. {m.ci_high:+.2%}",
                "margin (%)": f"±{m.margin:.0%}",
                "verdict": str(m.verdict),
                "episodes": m.episodes,
                "episodes to decide": m.episodes_to_decide or "-",
            }
        )
    return Table(rows, "Metrics (relative difference, bootstrap 95% CI)")


def resolution_table(state: Any, strategy: str | None) -> Table:
    """Which env the factory builds now, as a fact.

    The check behind it asks "does the rollback select the legacy env?"; with
    no rollback in effect, the factory building the new env is the expected
    state, so it is shown as a fact ("no rollback in effect"), not a failure.
    """
    check: CheckResult | None = state.resolved_env
    if check is None:
        return mapping_table(
            {"factory": "not resolved (runbook.toml has no [env] section)"},
            "Which env the factory builds now",
        )
    evidence = check.evidence or {}
    built = (evidence.get("default") or {}).get("class")
    legacy = (evidence.get("legacy") or {}).get("class")
    rows: dict[str, Any] = {
        "factory builds (no env type)": built or check.summary,
        "legacy env": legacy or "unknown",
        "rollback in effect": strategy or "none",
    }
    if strategy is None and check.status == "fail" and built and built != legacy:
        rows["fact"] = f"no rollback in effect: the factory builds {built}, as released"
    else:
        rows["check"] = check.status
        rows["summary"] = check.summary
    return mapping_table(rows, "Which env the factory builds now")


class MarkdownFile:
    """A Markdown file shown inline in a notebook (its content, not its path)."""

    def __init__(self, path: Path) -> None:
        """Show ``path``; read when displayed."""
        self.path = Path(path)

    def _repr_markdown_(self) -> str:
        return self.path.read_text(encoding="utf-8")

    def __repr__(self) -> str:
        return self.path.read_text(encoding="utf-8")


def markdown_file(path: Path) -> MarkdownFile:
    """Render a Markdown file (the post-mortem) inline in a notebook."""
    return MarkdownFile(path)
