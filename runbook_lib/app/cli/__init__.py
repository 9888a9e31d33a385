"""The ``runbook`` command line: a thin layer over the library.

:func:`main` is the console script. The click group lives in
:mod:`runbook_lib.app.cli.root` and loads each subcommand only when it runs;
``runbook rollback now`` with its own options only takes a path that does not
import click at all (:mod:`runbook_lib.app.cli.fastnow`), so that the immediate
rollback starts at once. Anything else that path does not know (``--help``, a
question to confirm, a bad option) goes to click, which answers as for any
other command. ``runbook --help`` prints the group's help without click too
(:mod:`runbook_lib.app.cli.fasthelp`).
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``runbook`` console script; returns the exit code."""
    args = sys.argv[1:] if argv is None else argv
    if "-h" in args or "--help" in args:
        from runbook_lib.app.cli.fasthelp import print_root_help

        if print_root_help(args):
            return 0
    if "rollback" in args and "now" in args:
        from runbook_lib.app.cli.fastnow import run_now

        code = run_now(args)
        if code is not None:
            return code
    from runbook_lib.app.cli.common import run_guarded
    from runbook_lib.app.cli.root import cli

    return run_guarded(cli, args)
