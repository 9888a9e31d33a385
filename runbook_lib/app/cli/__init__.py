"""The ``runbook`` command line: a thin layer over the library.

Each command parses its arguments, calls one library function and prints the
result as text or, with ``--json``, as one JSON object. Library errors become a
one-line message on stderr and a documented exit code (see ``HELP``).
"""

from __future__ import annotations

import sys

import click

from runbook_lib import __version__
from runbook_lib.app.cli.archive_cmd import archive_group
from runbook_lib.app.cli.common import OneLineGroup, run_guarded
from runbook_lib.app.cli.decide_cmd import decide_command
from runbook_lib.app.cli.drill_cmd import drill
from runbook_lib.app.cli.incident_cmd import incident
from runbook_lib.app.cli.notify_cmd import notify_command
from runbook_lib.app.cli.parity_cmd import parity
from runbook_lib.app.cli.rollback_cmd import rollback
from runbook_lib.app.cli.run_cmd import run_command
from runbook_lib.app.cli.sandbox_cmd import sandbox
from runbook_lib.app.cli.verify_cmd import verify

HELP = """Roll back an RL system safely and prove afterwards what was done.

Every command that reports takes --json. Errors print one line on stderr.

\b
Exit codes:
  0  ok
  1  a check failed
  2  invalid input (a bad argument, file or state)
  3  the target's lock is held by another process
  4  the plan is stale: the target changed since it was made
"""


@click.group(cls=OneLineGroup, help=HELP, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="runbook")
def cli() -> None:
    """Roll back an RL system safely and prove afterwards what was done."""


cli.add_command(sandbox)
cli.add_command(drill)
cli.add_command(incident)
cli.add_command(decide_command)
cli.add_command(parity)
cli.add_command(rollback)
cli.add_command(verify)
cli.add_command(run_command)
cli.add_command(archive_group)
cli.add_command(notify_command)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``runbook`` console script; returns the exit code."""
    return run_guarded(cli, sys.argv[1:] if argv is None else argv)
