"""Shared CLI plumbing: error mapping, one-line usage errors and output."""

from __future__ import annotations

import json
import sys
from typing import Any

import click
from click.exceptions import NoArgsIsHelpError

from runbook_lib.base.errors import EXIT_INVALID_INPUT, InvalidInputError, RunbookError


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


def one_line(err: click.UsageError, path: str) -> InvalidInputError:
    """A click usage error as an :class:`InvalidInputError` (one line, exit 2).

    The message names the subcommand but not the program: the error line
    already starts with ``runbook: error:``.
    """
    below = path.partition(" ")[2]
    message = err.format_message()
    return InvalidInputError(
        f"{below}: {message}" if below else message, hint=f"see '{path} --help'"
    )


def format_summaries(
    formatter: click.HelpFormatter, rows: list[tuple[str, str]], title: str = "Commands"
) -> None:
    """A help section of commands with their whole summaries (wrapped, never cut off)."""
    if rows:
        with formatter.section(title):
            formatter.write_dl(rows)


def _path_of(info_name: str | None, parent: click.Context | None) -> str:
    prefix = parent.command_path + " " if parent is not None else ""
    return prefix + (info_name or "")


class _OneLineParsing(click.Command):
    """Parsing whose usage errors are one line (as :class:`InvalidInputError`, exit 2)."""

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        """Parse ``args``; a usage error becomes an :class:`InvalidInputError`."""
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except NoArgsIsHelpError:
            raise  # shown as the help text, as click does
        except click.UsageError as err:
            raise one_line(err, _path_of(info_name, parent)) from None


class OneLineCommand(_OneLineParsing):
    """A command whose usage errors are one line (as :class:`InvalidInputError`, exit 2)."""


class OneLineGroup(_OneLineParsing, click.Group):
    """A group whose own usage errors and those of every command below it are one line.

    Commands below it may be plain click commands or groups: a usage error
    raised while they parse or run is converted here, naming their command path.
    """

    command_class = OneLineCommand

    def list_commands(self, ctx: click.Context) -> list[str]:
        """The commands in the order they were added (the workflow's), not sorted."""
        return list(self.commands)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """List the commands with their whole first sentence, as git does."""
        rows = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(limit=1_000)))
        format_summaries(formatter, rows)

    def invoke(self, ctx: click.Context) -> Any:
        """Run the subcommand; any usage error below becomes an :class:`InvalidInputError`."""
        try:
            return super().invoke(ctx)
        except NoArgsIsHelpError:
            raise
        except click.UsageError as err:
            path = err.ctx.command_path if err.ctx is not None else ctx.command_path
            raise one_line(err, path) from None
