"""``runbook notebooks``: the shipped runbook notebooks, listed or copied."""

from __future__ import annotations

from pathlib import Path

import click

from runbook_lib.app.cli.common import OneLineGroup, emit
from runbook_lib.app.cli.options import json_option


@click.group("notebooks", cls=OneLineGroup)
def notebooks() -> None:
    """List the runbook notebooks, or copy them for JupyterLab.

    'runbook run NAME' runs one by name: 03_parity, parity, or a path.
    """


@notebooks.command("list")
@json_option
def list_command(as_json: bool) -> None:
    """List the notebooks with their parameters (as papermill reads them)."""
    from runbook_lib.runs.catalog import describe, shipped

    infos = [describe(path) for path in shipped()]
    lines = []
    for info in infos:
        lines.append(f"{info.name}  ({info.path})")
        for name, spec in info.parameters.items():
            kind, default = spec.get("inferred_type_name", ""), spec.get("default", "")
            lines.append(f"  {name}: {kind} = {default}  {spec.get('help', '')}".rstrip())
    emit({"notebooks": [i.to_dict() for i in infos]}, as_json=as_json, text="\n".join(lines))


@notebooks.command("copy")
@click.argument("directory", type=click.Path(path_type=Path, file_okay=False))
@click.option("--force", is_flag=True, help="Replace notebooks already in DIRECTORY.")
@json_option
def copy_command(directory: Path, force: bool, as_json: bool) -> None:
    """Copy the notebooks into DIRECTORY, an editable copy to open in JupyterLab."""
    from runbook_lib.runs.catalog import copy_notebooks

    copied = copy_notebooks(directory, force=force)
    emit(
        {"directory": str(directory), "copied": [str(p) for p in copied]},
        as_json=as_json,
        text=f"copied {len(copied)} notebooks into {directory}",
    )
