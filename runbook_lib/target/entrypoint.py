"""Load a target's code through a ``module:attribute`` entry point."""

from __future__ import annotations

import importlib
import re
from typing import Any

from runbook_lib.base.errors import InvalidInputError

_ENTRY_POINT = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")


def parse_entry_point(spec: str) -> tuple[str, str]:
    """Split ``module:attribute``; raise :class:`InvalidInputError` on anything else."""
    if not _ENTRY_POINT.match(spec):
        raise InvalidInputError(
            f"entry point {spec!r} is not of the form 'package.module:function'",
            hint="for example 'src.rl.envs.factory:create_sim_env'",
        )
    module, attribute = spec.split(":", 1)
    return module, attribute


def load_entry_point(spec: str) -> Any:
    """Import ``module`` and return ``attribute`` (dotted) from it.

    Raises:
        InvalidInputError: the spec is malformed, or the module or attribute is missing.
    """
    module_name, attribute = parse_entry_point(spec)
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as err:
        raise InvalidInputError(
            f"cannot import {module_name!r} for entry point {spec!r}: {err}",
            hint="run from the target's root or check the manifest's entry point",
        ) from err
    for part in attribute.split("."):
        if not hasattr(obj, part):
            raise InvalidInputError(f"{module_name!r} has no attribute {attribute!r} ({spec})")
        obj = getattr(obj, part)
    return obj
