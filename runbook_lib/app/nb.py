"""What the runbook notebooks call: a session on one incident, and tables to show.

Notebooks stay thin (a parameters cell, then a few calls per cell); every step
they show is a library function that tests reach without a notebook. The
runner gives each kernel ``RUNBOOK_TARGET``, ``RUNBOOK_ARCHIVE`` and
``RUNBOOK_INCIDENT``, so a notebook run by ``runbook run`` needs no paths; in
JupyterLab, set the parameters or those variables.
"""

from __future__ import annotations

import html
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runbook_lib.app.locations import Locations
from runbook_lib.base.errors import CheckFailedError, InvalidInputError
from runbook_lib.base.report import CheckResult
from runbook_lib.incident.model import Incident, incident_dir, load_incident, open_incident
from runbook_lib.target.manifest import Manifest, load_manifest

_STATUS_STYLE = {
    "pass": "#1a7f37",
    "fail": "#cf222e",
    "warn": "#9a6700",
    "skip": "#57606a",
    "PASS": "#1a7f37",
    "FAIL": "#cf222e",
    "INCONCLUSIVE": "#9a6700",
}


@dataclass(frozen=True)
class Session:
    """One notebook's view of the target, the archive and the incident."""

    manifest: Manifest
    archive: Path
    incident_id: str

    @property
    def target(self) -> Path:
        """The target's root."""
        return self.manifest.root

    @property
    def directory(self) -> Path:
        """The incident's directory in the archive."""
        return incident_dir(self.archive, self.incident_id)

    def incident(self) -> Incident:
        """The incident as stored now."""
        return load_incident(self.archive, self.incident_id)


def _path(value: Any) -> Path | None:
    return Path(str(value)) if value else None


def start(params: Mapping[str, Any], *, open_with: Mapping[str, str] | None = None) -> Session:
    """Resolve the target, the archive and the incident for a notebook.

    ``params`` may hold ``target``, ``archive`` and ``incident`` (empty: the
    ``RUNBOOK_*`` variables, then the nearest runbook.toml and the target's
    default archive, exactly as the CLI resolves them: :mod:`.locations`).
    With ``open_with`` (title, severity, kind) and no incident, one is opened.

    Raises:
        InvalidInputError: no target, or no incident and nothing to open one with.
    """
    given = Locations(_path(params.get("target")), _path(params.get("archive")))
    manifest = load_manifest(given.resolve_target())
    archive = given.resolve_archive(target=manifest.root)
    incident = str(params.get("incident") or os.environ.get("RUNBOOK_INCIDENT") or "")
    if not incident:
        if not open_with:
            raise InvalidInputError(
                "no incident: set the 'incident' parameter (or $RUNBOOK_INCIDENT)",
                hint="open one with 'runbook incident open' or the triage notebook",
            )
        incident = open_incident(
            archive, open_with["title"], open_with["severity"], open_with["kind"]
        ).id
    load_incident(archive, incident)
    return Session(manifest, archive.resolve(), incident)


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
        if isinstance(value, dict | list | tuple):
            value = json.dumps(value, default=str)[:300]
        text = html.escape(str(value))
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
        lines += [" | ".join(str(r.get(c, "")) for c in self.columns) for r in self.rows]
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
    from runbook_lib.incident.model import advance_incident

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
        import io

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


def parity_table(outcome: Any) -> Table:
    """A parity outcome's verdict, agreement, throughput and decision."""
    report = outcome.report
    low, high = report.throughput_ci_pct
    return mapping_table(
        {
            "verdict": report.verdict,
            "reason": report.reason,
            "step agreement": f"{report.step_agreement:.2%}",
            "throughput regression": f"{report.throughput_regression_pct:+.1f}% "
            f"(95% CI {low:+.1f}..{high:+.1f})",
            "first divergence": report.first_divergence,
            "decision": outcome.decision.summary,
        },
        "Parity",
    )
