"""``runbook --help`` without click: the top-level help, rendered once.

Importing click costs more than printing the help. :data:`ROOT_HELP` is what
the click group (:mod:`runbook_lib.app.cli.root`) prints at the usual width (a
terminal of 80 columns or more, or no terminal); a test renders the group and
compares, so the two cannot drift. Narrower terminals, where click wraps
differently, and every other argument go to click.
"""

from __future__ import annotations

import os
import sys

# click wraps help at min(terminal columns, 80) - 2.
_WIDE_ENOUGH = 80

ROOT_HELP = """\
Usage: runbook [OPTIONS] COMMAND [ARGS]...

  Roll back an RL system safely and prove afterwards what was done.

  --target and --archive go before the subcommand or after it. Every command
  that reports takes --json. Errors print one line on stderr.

  Exit codes:
    0  ok
    1  a check failed
    2  invalid input (a bad argument, file or state)
    3  the target's lock is held by another process
    4  the plan is stale: the target changed since it was made

Options:
  --version            Show the version and exit.
  --target DIRECTORY   The target's root (holding runbook.toml); default:
                       $RUNBOOK_TARGET, else the nearest runbook.toml from the
                       current directory upward.
  --archive DIRECTORY  Archive directory (incidents in
                       ARCHIVE/incidents/<ID>/); default: $RUNBOOK_ARCHIVE,
                       else the target's [archive] dir, else its directory
                       under ~/.local/share/runbook/archives/.
  -h, --help           Show this message and exit.

Commands:
  incident   Open, list, show and advance incidents.
  decide     Walk the rollback decision tree (seed 000 §2) and print the
             decision.
  rollback   Plan, apply, undo and resume rollbacks (journaled, one at a time
             per target).
  parity     Run the legacy and the candidate env in lockstep and decide (seed
             000 §2, §3.3, §9).
  verify     Run the verification checks; exit 1 when a blocking check fails.
  run        Execute NOTEBOOK for an incident; keep the executed copy, its
             HTML and a chain record.
  notebooks  List the runbook notebooks, or copy them for JupyterLab.
  archive    List, show, verify and bundle the evidence archive of incidents.
  keys       Make the Ed25519 keypair that signs the archive's seals.
  notify     Render a message from the incident's records into
             ARCHIVE/incidents/<ID>/comms/.
  readiness  Rehearse each rollback in a worktree of HEAD; exit 1 when a
             declared one is not ready.
  drill      Materialize a fresh sandbox, inject a fault, and run the runbook
             chain headless.
  sandbox    Materialize the sandbox reference system (an RL project to roll
             back).
"""


def terminal_columns() -> int:
    """The columns ``shutil.get_terminal_size`` (what click asks) reports, without importing it."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns or _WIDE_ENOUGH


def print_root_help(args: list[str]) -> bool:
    """Print the top-level help for ``runbook --help`` (or ``-h``); False when click must."""
    if args not in (["--help"], ["-h"]) or terminal_columns() < _WIDE_ENOUGH:
        return False
    sys.stdout.write(ROOT_HELP)
    sys.stdout.flush()
    return True
