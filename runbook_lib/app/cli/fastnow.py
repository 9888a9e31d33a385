"""``runbook rollback now`` without click: the immediate rollback starts at once.

Seed 000's immediate rollback is for an outage; importing click costs more than
the rollback itself. :func:`run_now` reads exactly the options that
``runbook [--target DIR] [--archive DIR] rollback now`` documents and runs the
same library call as the click command (:func:`runbook_lib.rollback.operations.rollback_now`:
the lock, the journal, atomic writes, the incident's records). Whatever it does
not know (``--help``, a missing value, an unknown option, a path that is a file,
a question to confirm on a terminal) it leaves to click by returning ``None``,
so usage errors and help read as for every other command.
"""

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from runbook_lib.app.locations import Locations
from runbook_lib.base.errors import EXIT_INVALID_INPUT, RunbookError

if TYPE_CHECKING:
    from runbook_lib.rollback.operations import NowReport

DEFAULT_TITLE = "immediate rollback to the legacy env"
_FLAGS = {"--yes": "yes", "-y": "yes", "--dry-run": "dry_run", "--json": "as_json"}
_VALUED = {"--title", "--target", "--archive"}


class NowArgs(NamedTuple):
    """What ``rollback now`` was given, before and after the subcommand."""

    before: dict[str, str]
    after: dict[str, str]
    yes: bool = False
    dry_run: bool = False
    as_json: bool = False


def _options(
    args: list[str], valued: set[str], flags: dict[str, str], into: set[str], values: dict[str, str]
) -> bool:
    """Read ``args`` into ``values`` and the flags' names into ``into``; False if unknown."""
    index = 0
    while index < len(args):
        arg = args[index]
        name, eq, value = arg.partition("=")
        if eq and name in valued:
            values[name] = value
        elif arg in valued and index + 1 < len(args):
            values[arg] = args[index + 1]
            index += 1
        elif arg in flags:
            into.add(flags[arg])
        else:
            return False
        index += 1
    return True


def parse(argv: list[str]) -> NowArgs | None:
    """The options of ``[globals] rollback now [options]``; None when click must answer."""
    try:
        at = argv.index("rollback")
    except ValueError:
        return None
    if argv[at + 1 : at + 2] != ["now"]:
        return None
    before: dict[str, str] = {}
    after: dict[str, str] = {}
    flags: set[str] = set()
    if not _options(argv[:at], {"--target", "--archive"}, {}, flags, before):
        return None
    if not _options(argv[at + 2 :], _VALUED, _FLAGS, flags, after):
        return None
    parsed = NowArgs(
        before, after, yes="yes" in flags, dry_run="dry_run" in flags, as_json="as_json" in flags
    )
    paths = [v for k, v in (*parsed.before.items(), *parsed.after.items()) if k != "--title"]
    # click.Path(file_okay=False) refuses an empty value or an existing file: let it say so.
    if any(not value or os.path.isfile(value) for value in paths):
        return None
    return parsed


def _path(values: dict[str, str], name: str) -> Path | None:
    value = values.get(name)
    return Path(value) if value is not None else None


def now_text(result: "NowReport") -> str:
    """What ``rollback now`` prints for people (the click command prints the same)."""
    dry_run = result.report.dry_run
    lines = [f"incident {result.incident} (critical) opened; plan {result.plan.sha256[:12]}"]
    lines += ["what runbook would do (nothing changed):" if dry_run else "what runbook did:"]
    lines += [f"  {'would apply' if dry_run else 'done'}: {t}" for t in result.report.steps_done]
    if result.exports:
        lines += ["what you must still do, in your own shell (runbook cannot change it):"]
        lines += [f"  {line}" for line in result.exports]
    return "\n".join(lines)


def run_now(argv: list[str]) -> int | None:
    """Run ``rollback now`` from ``argv``; None when click must handle ``argv`` instead."""
    parsed = parse(argv)
    if parsed is None or not (parsed.yes or parsed.dry_run):
        return None  # confirming on a terminal is click's job
    try:
        return _run(parsed)
    except RunbookError as err:
        sys.stderr.write(f"runbook: error: {err}\n")
        return err.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("\nrunbook: aborted\n")
        return EXIT_INVALID_INPUT


def _run(parsed: NowArgs) -> int:
    locations = Locations(_path(parsed.before, "--target"), _path(parsed.before, "--archive"))
    target = locations.resolve_target(_path(parsed.after, "--target"))
    archive = locations.resolve_archive(_path(parsed.after, "--archive"), target)
    from runbook_lib.rollback.operations import rollback_now

    title = parsed.after.get("--title", DEFAULT_TITLE)
    result = rollback_now(target, archive, title, dry_run=parsed.dry_run)
    if parsed.as_json:
        sys.stdout.write(json.dumps(result.to_dict(), indent=2, sort_keys=True, default=str) + "\n")
    else:
        sys.stdout.write(now_text(result) + "\n")
    sys.stdout.flush()
    return 0
