"""Reusable click options: ``--target``, ``--archive``, ``--json``.

The one-line usage-error classes live in :mod:`runbook_lib.app.cli.common`; they
are re-exported here for the commands that import them from this module.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from runbook_lib.app.cli.common import OneLineCommand, OneLineGroup
from runbook_lib.base.errors import InvalidInputError
from runbook_lib.target.manifest import MANIFEST_NAME, find_manifest

__all__ = ["OneLineCommand", "OneLineGroup", "archive_option", "json_option", "target_option"]

F = TypeVar("F", bound=Callable[..., Any])

ARCHIVE_ENV = "RUNBOOK_ARCHIVE"
DEFAULT_ARCHIVE = Path("outputs")


def _resolve_target(_ctx: click.Context, _param: click.Parameter, value: Path | None) -> Path:
    if value is None:
        return find_manifest(Path.cwd()).parent
    if not (value / MANIFEST_NAME).is_file():
        raise InvalidInputError(
            f"--target {value} holds no {MANIFEST_NAME}",
            hint="pass the target's root directory, the one with runbook.toml",
        )
    return value.resolve()


def target_option(func: F) -> F:
    """``--target DIR``: the target's root; by default the nearest runbook.toml's directory."""
    option = click.option(
        "--target",
        "target",
        type=click.Path(path_type=Path, file_okay=False),
        default=None,
        callback=_resolve_target,
        help=f"The target's root (holding {MANIFEST_NAME}); default: the nearest "
        f"{MANIFEST_NAME} from the current directory upward.",
    )
    return option(func)


def archive_option(func: F) -> F:
    """``--archive DIR``: where incidents live; default ``./outputs`` or ``$RUNBOOK_ARCHIVE``."""
    option = click.option(
        "--archive",
        type=click.Path(path_type=Path, file_okay=False),
        envvar=ARCHIVE_ENV,
        default=DEFAULT_ARCHIVE,
        show_default=True,
        show_envvar=True,
        help="Archive directory; incidents live in ARCHIVE/incidents/<ID>/.",
    )
    return option(func)


def json_option(func: F) -> F:
    """``--json``: print the result as one JSON object (into parameter ``as_json``)."""
    option = click.option(
        "--json", "as_json", is_flag=True, help="Print the result as one JSON object."
    )
    return option(func)
