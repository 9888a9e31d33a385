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
    """Run the ``runbook`` command line on ``argv``; returns the exit code.

    Without ``argv`` (the console script, ``python -m runbook_lib.app.cli``) the
    process's own arguments are used, and the immediate rollback then leaves without
    the interpreter's teardown (:func:`_exit_at_once`). Called with ``argv``, as
    tests and embedding code do, it always returns.
    """
    args = sys.argv[1:] if argv is None else argv
    if "-h" in args or "--help" in args:
        from runbook_lib.app.cli.fasthelp import print_root_help

        if print_root_help(args):
            return 0
    code = _rollback_now(args)
    if code is not None:
        if argv is None:
            _exit_at_once(code)
        return code
    from runbook_lib.app.cli.common import run_guarded
    from runbook_lib.app.cli.root import cli

    return run_guarded(cli, args)


def _rollback_now(args: list[str]) -> int | None:
    if "rollback" not in args or "now" not in args:
        return None
    from runbook_lib.app.cli.fastnow import run_now

    return run_now(args)


def _exit_at_once(code: int) -> None:
    """Exit with ``code`` without tearing the interpreter down, when nothing is pending.

    Clearing every imported module and collecting their objects adds about a tenth to
    ``rollback now``, which is for an outage. Its writes are all flushed, fsynced and
    closed before it returns (the journal's and the seal's durability points), so once
    stdout and stderr are flushed and the exit handlers have run, only that teardown
    is skipped. With another (non-daemon) thread still alive, the usual exit waits for it.
    """
    import atexit
    import os
    import threading

    sys.stdout.flush()
    sys.stderr.flush()
    main_thread = threading.main_thread()
    if any(t is not main_thread and not t.daemon for t in threading.enumerate()):
        sys.exit(code)  # the usual exit waits for them (daemon threads it never waits for)
    atexit._run_exitfuncs()
    os._exit(code)
