"""``runbook readiness``: rehearse every rollback in a worktree of HEAD (seed 000 §4)."""

from __future__ import annotations

from pathlib import Path

import click

from runbook_lib.app.cli.common import OneLineCommand, emit
from runbook_lib.app.cli.options import archive_option, json_option, target_option


@click.command("readiness", cls=OneLineCommand)
@click.option(
    "--incident",
    "incident_id",
    default=None,
    help="Also record the matrix into this incident (the rehearsal always opens its own).",
)
@click.option(
    "--strategy",
    "strategies",
    multiple=True,
    help="Rehearse only this strategy (repeatable; default: every one the manifest declares).",
)
@target_option
@archive_option
@json_option
def readiness_command(
    incident_id: str | None,
    strategies: tuple[str, ...],
    target: Path,
    archive: Path,
    as_json: bool,
) -> None:
    """Rehearse each rollback in a worktree of HEAD; exit 1 when a declared one is not ready.

    For every strategy the manifest declares: plan, apply, prove the effect (the
    factory builds the legacy env), run [tests] rollback_command, undo, and prove
    the worktree byte-identical to before. The user's working tree is never
    touched. The matrix is recorded in a rehearsal incident of its own.
    """
    from runbook_lib.base.progress import StepProgress
    from runbook_lib.verify.readiness import rehearse, require_ready
    from runbook_lib.verify.readiness_matrix import render_text

    report = rehearse(
        target,
        archive,
        incident=incident_id,
        strategies=list(strategies) or None,
        progress=None if as_json else StepProgress.for_stream(),
    )
    data = report.to_dict()
    emit(data, as_json=as_json, text=render_text(data))
    require_ready(report)
