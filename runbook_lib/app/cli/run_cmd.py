"""``runbook run``: execute a runbook notebook into an incident's evidence archive."""

from __future__ import annotations

from pathlib import Path

import click

from runbook_lib.app.cli.common import OneLineCommand, emit
from runbook_lib.app.cli.options import archive_option, json_option, target_option
from runbook_lib.base.errors import CheckFailedError
from runbook_lib.runs.runner import DEFAULT_CELL_TIMEOUT, DEFAULT_RUN_TIMEOUT

_SECONDS = click.FloatRange(min=0, min_open=True)


def _failure(error: dict[str, object] | None) -> str:
    if not error:
        return "it failed"
    cell = error.get("cell")
    where = f" in cell {cell.get('index')}" if isinstance(cell, dict) else ""
    return f"{error.get('ename')}{where}: {error.get('evalue')}"


@click.command("run", cls=OneLineCommand)
@click.argument("name", metavar="NOTEBOOK")
@click.option("--incident", "incident_id", required=True, help="Incident ID.")
@click.option(
    "-p",
    "--parameter",
    "pairs",
    nargs=2,
    multiple=True,
    metavar="NAME VALUE",
    help="A notebook parameter (repeatable), read like papermill's -p and checked "
    "against the notebook's parameters cell.",
)
@click.option(
    "--cell-timeout",
    type=_SECONDS,
    default=DEFAULT_CELL_TIMEOUT,
    show_default=True,
    metavar="S",
    help="Longest a single cell may run.",
)
@click.option(
    "--run-timeout",
    type=_SECONDS,
    default=DEFAULT_RUN_TIMEOUT,
    show_default=True,
    metavar="S",
    help="Longest the whole notebook may run; then its kernel is killed.",
)
@target_option
@archive_option
@json_option
def run_command(
    *,
    name: str,
    incident_id: str,
    pairs: tuple[tuple[str, str], ...],
    cell_timeout: float,
    run_timeout: float,
    target: Path,
    archive: Path,
    as_json: bool,
) -> None:
    """Execute NOTEBOOK for an incident; keep the executed copy, its HTML and a chain record.

    NOTEBOOK is a shipped notebook's name (03_parity or parity; see 'runbook
    notebooks list') or a path to an .ipynb.

    The run goes to ARCHIVE/incidents/<ID>/runs/<NN>-<name>.ipynb (and .html),
    in the incident directory as working directory, with the target's rollback
    variables in the kernel's environment. Secrets never go in -p: list their
    variable names under 'secrets' in runbook.toml and export them instead.
    Runs of one incident queue; a failed run exits 1 and is archived all the same.
    """
    from runbook_lib.runs.catalog import find_notebook
    from runbook_lib.runs.parameters import parameters_from_text
    from runbook_lib.runs.run import run_notebook

    notebook = find_notebook(name)

    parameters = parameters_from_text(notebook, pairs)

    def announce(output: Path) -> None:
        click.echo(f"runbook: running {notebook.name} for {incident_id} into {output}", err=True)

    outcome = run_notebook(
        notebook,
        incident_id,
        archive=archive,
        target=target,
        parameters=parameters,
        cell_timeout=cell_timeout,
        run_timeout=run_timeout,
        progress=True,
        on_start=announce,
    )
    lines = [
        f"run {outcome.seq:02d} of {outcome.incident}: {outcome.status} "
        f"({outcome.duration_s:.1f} s)",
        f"  notebook {outcome.output}",
        f"  html     {outcome.html or '-'}",
        f"  git      {(outcome.git_before or '-')[:12]} -> {(outcome.git_after or '-')[:12]}",
    ]
    lines += [f"  suspicious before the run: {problem}" for problem in outcome.suspicious]
    emit(outcome.to_dict(), as_json=as_json, text="\n".join(lines))
    if not outcome.ok:
        raise CheckFailedError(
            f"run {outcome.seq:02d} of {outcome.notebook} failed: {_failure(outcome.error)}",
            hint=f"the executed copy is kept, marked failed: {outcome.output}",
        )
