"""The top-level ``runbook`` group: global options, help, lazy subcommands.

Each command parses its arguments, calls one library function and prints the
result as text or, with ``--json``, as one JSON object. Library errors become a
one-line message on stderr and a documented exit code (see ``HELP``).

Subcommands load lazily: ``runbook --help`` imports none of them, and
``runbook rollback ...`` only the rollback commands.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import NamedTuple

import click

from runbook_lib import __version__
from runbook_lib.app.cli.common import OneLineGroup, format_summaries
from runbook_lib.app.cli.options import ARCHIVE_HELP, TARGET_HELP
from runbook_lib.app.locations import Locations

HELP = """Roll back an RL system safely and prove afterwards what was done.

--target and --archive go before the subcommand or after it. Every command
that reports takes --json. Errors print one line on stderr.

\b
Exit codes:
  0  ok
  1  a check failed
  2  invalid input (a bad argument, file or state)
  3  the target's lock is held by another process
  4  the plan is stale: the target changed since it was made
"""


_PACKAGE = "runbook_lib.app.cli"


class Lazy(NamedTuple):
    """Where a subcommand lives ("module:attribute") and its one-line summary."""

    where: str
    summary: str


# In the order of the workflow; each summary is the command's first docstring line
# (a test keeps them equal), so that the help lists them without importing any.
COMMANDS: dict[str, Lazy] = {
    "incident": Lazy("incident_cmd:incident", "Open, list, show and advance incidents."),
    "decide": Lazy(
        "decide_cmd:decide_command",
        "Walk the rollback decision tree (seed 000 §2) and print the decision.",
    ),
    "rollback": Lazy(
        "rollback_cmd:rollback",
        "Plan, apply, undo and resume rollbacks (journaled, one at a time per target).",
    ),
    "parity": Lazy(
        "parity_cmd:parity",
        "Run the legacy and the candidate env in lockstep and decide (seed 000 §2, §3.3, §9).",
    ),
    "verify": Lazy(
        "verify_cmd:verify", "Run the verification checks; exit 1 when a blocking check fails."
    ),
    "run": Lazy(
        "run_cmd:run_command",
        "Execute NOTEBOOK for an incident; keep the executed copy, its HTML and a chain record.",
    ),
    "notebooks": Lazy(
        "notebooks_cmd:notebooks", "List the runbook notebooks, or copy them for JupyterLab."
    ),
    "archive": Lazy(
        "archive_cmd:archive_group",
        "List, show, verify and bundle the evidence archive of incidents.",
    ),
    "keys": Lazy("keys_cmd:keys_group", "Make the Ed25519 keypair that signs the archive's seals."),
    "notify": Lazy(
        "notify_cmd:notify_command",
        "Render a message from the incident's records into ARCHIVE/incidents/<ID>/comms/.",
    ),
    "readiness": Lazy(
        "readiness_cmd:readiness_command",
        "Rehearse each rollback in a worktree of HEAD; exit 1 when a declared one is not ready.",
    ),
    "drill": Lazy(
        "drill_cmd:drill",
        "Materialize a fresh sandbox, inject a fault, and run the runbook chain headless.",
    ),
    "sandbox": Lazy(
        "sandbox_cmd:sandbox",
        "Materialize the sandbox reference system (an RL project to roll back).",
    ),
}


class LazyGroup(OneLineGroup):
    """The top-level group: imports a subcommand's module only when it runs."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Every subcommand, in the workflow's order."""
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """Import and return the subcommand ``cmd_name`` (``None`` if there is none)."""
        lazy = COMMANDS.get(cmd_name)
        if lazy is None:
            return None
        module, _, attribute = lazy.where.partition(":")
        command = getattr(importlib.import_module(f"{_PACKAGE}.{module}"), attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{lazy.where} is not a click command")
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """List the subcommands with their whole summaries, importing none of them."""
        format_summaries(formatter, [(name, lazy.summary) for name, lazy in COMMANDS.items()])


@click.group(cls=LazyGroup, help=HELP, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="runbook")
@click.option(
    "--target", type=click.Path(path_type=Path, file_okay=False), default=None, help=TARGET_HELP
)
@click.option(
    "--archive", type=click.Path(path_type=Path, file_okay=False), default=None, help=ARCHIVE_HELP
)
@click.pass_context
def cli(ctx: click.Context, target: Path | None, archive: Path | None) -> None:
    """Roll back an RL system safely and prove afterwards what was done."""
    ctx.obj = Locations(target, archive)
