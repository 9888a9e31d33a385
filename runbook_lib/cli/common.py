"""Shared CLI plumbing: error mapping and output."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from runbook_lib.errors import EXIT_INVALID_INPUT, RunbookError


def run_guarded(command: click.Command, args: list[str]) -> int:
    """Run a click command; turn library errors into one line on stderr and an exit code."""
    try:
        command.main(args=args, prog_name="runbook", standalone_mode=False)
    except RunbookError as err:
        click.echo(f"runbook: error: {err}", err=True)
        return err.exit_code
    except click.exceptions.Abort:
        click.echo("runbook: aborted", err=True)
        return EXIT_INVALID_INPUT
    except click.ClickException as err:
        err.show()
        return err.exit_code
    except click.exceptions.Exit as err:
        return err.exit_code
    return 0


def emit(data: dict[str, Any], *, as_json: bool, text: str) -> None:
    """Print ``data`` as one JSON object, or ``text`` for people."""
    if as_json:
        sys.stdout.write(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")
    else:
        click.echo(text)
