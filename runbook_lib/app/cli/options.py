"""Reusable click options: ``--target``, ``--archive``, ``--json``.

``--target`` and ``--archive`` are accepted before the subcommand (stored by the
top-level group as :class:`~runbook_lib.app.locations.Locations` on
``ctx.obj``) and after it; the value after the subcommand wins, then the one
before it, then ``$RUNBOOK_TARGET`` / ``$RUNBOOK_ARCHIVE``, then the defaults of
:mod:`runbook_lib.app.locations`. The one-line usage-error classes live in
:mod:`runbook_lib.app.cli.common`; they are re-exported here.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, cast

import click

from runbook_lib.app.cli.common import OneLineCommand, OneLineGroup
from runbook_lib.app.locations import ARCHIVE_ENV, TARGET_ENV, Locations

__all__ = [
    "ARCHIVE_HELP",
    "TARGET_HELP",
    "OneLineCommand",
    "OneLineGroup",
    "archive_option",
    "json_option",
    "locations",
    "optional_target_option",
    "target_option",
]

F = TypeVar("F", bound=Callable[..., Any])

_DIR = click.Path(path_type=Path, file_okay=False)
TARGET_HELP = (
    f"The target's root (holding runbook.toml); default: ${TARGET_ENV}, else the nearest "
    "runbook.toml from the current directory upward."
)
ARCHIVE_HELP = (
    f"Archive directory (incidents in ARCHIVE/incidents/<ID>/); default: ${ARCHIVE_ENV}, "
    "else the target's [archive] dir, else its directory under "
    "~/.local/share/runbook/archives/."
)


def locations() -> Locations:
    """What the top-level group was given before the subcommand (empty if nothing)."""
    ctx = click.get_current_context(silent=True)
    found = ctx.find_object(Locations) if ctx is not None else None
    return found if found is not None else Locations()


def _resolving(func: F, name: str, resolve: Callable[[dict[str, Any]], Any]) -> F:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        kwargs[name] = resolve(kwargs)
        return func(*args, **kwargs)

    return cast(F, wrapper)


def target_option(func: F) -> F:
    """``--target DIR`` (into ``target``): the target's root, always resolved."""
    wrapped = _resolving(func, "target", lambda kw: locations().resolve_target(kw["target"]))
    return click.option("--target", type=_DIR, default=None, help=TARGET_HELP)(wrapped)


def optional_target_option(func: F) -> F:
    """``--target DIR`` (into ``target``): the target's root, or ``None`` when there is none."""
    wrapped = _resolving(func, "target", lambda kw: locations().find_target(kw["target"]))
    return click.option("--target", type=_DIR, default=None, help=TARGET_HELP)(wrapped)


def _archive(kwargs: dict[str, Any]) -> Path:
    target = kwargs.get("target")
    return locations().resolve_archive(kwargs["archive"], target if target else None)


def archive_option(func: F) -> F:
    """``--archive DIR`` (into ``archive``): where incidents live, always resolved.

    Put it below ``target_option`` so that a default archive follows the
    resolved target.
    """
    wrapped = _resolving(func, "archive", _archive)
    return click.option("--archive", type=_DIR, default=None, help=ARCHIVE_HELP)(wrapped)


def json_option(func: F) -> F:
    """``--json``: print the result as one JSON object (into parameter ``as_json``)."""
    option = click.option(
        "--json", "as_json", is_flag=True, help="Print the result as one JSON object."
    )
    return option(func)
