"""Validate a notebook's parameters inside its kernel, in the cell after the parameters cell.

A runbook notebook declares its parameters as annotated assignments,
papermill-style (``name: type = value  # help``); IPython records the
annotations in the namespace's ``__annotations__``. Papermill injects the
values it was given as a cell whose source starts with ``# Parameters``.
:func:`validate` reads both: a name injected but not declared, or a value of
the wrong type, stops the run with a message naming it, before any step runs.
"""

from __future__ import annotations

import ast
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any

from runbook_lib.base.errors import InvalidInputError

INJECTED_MARKER = "# Parameters"


def injected_names(history: Sequence[str]) -> list[str]:
    """Names assigned by the last papermill-injected cell in the input history."""
    for source in reversed(history):
        if source.lstrip().startswith(INJECTED_MARKER):
            tree = ast.parse(source)
            return [
                target.id
                for node in tree.body
                if isinstance(node, ast.Assign)
                for target in node.targets
                if isinstance(target, ast.Name)
            ]
    return []


_EXACT = {int: (int,), float: (int, float)}  # bool is an int subclass but no number here


def _accepts(annotation: Any, value: Any) -> bool:
    origin = typing.get_origin(annotation)
    if annotation is Any:
        accepted = True
    elif origin in (typing.Union, types.UnionType):
        accepted = any(_accepts(arg, value) for arg in typing.get_args(annotation))
    elif annotation is None or annotation is type(None):
        accepted = value is None
    elif origin is not None:
        accepted = isinstance(value, origin)
    elif annotation in _EXACT:
        accepted = isinstance(value, _EXACT[annotation]) and not isinstance(value, bool)
    else:
        accepted = isinstance(annotation, type) and isinstance(value, annotation)
    return accepted


def validate(namespace: Mapping[str, Any], history: Sequence[str] | None = None) -> dict[str, Any]:
    """Check the declared parameters of a notebook namespace; return them by name.

    Args:
        namespace: The kernel's ``globals()``.
        history: The input history (``In``); read from the namespace by default.

    Raises:
        InvalidInputError: a parameter was injected that the notebook does not
            declare, or a declared parameter holds a value of the wrong type.
    """
    declared: dict[str, Any] = dict(namespace.get("__annotations__", {}))
    if not declared:
        raise InvalidInputError("this notebook declares no parameters (no 'name: type = value')")
    inputs = list(history if history is not None else namespace.get("In", []))
    unknown = [name for name in injected_names(inputs) if name not in declared]
    if unknown:
        raise InvalidInputError(
            f"unknown parameter(s): {', '.join(unknown)}",
            hint=f"this notebook accepts: {', '.join(declared)}",
        )
    values: dict[str, Any] = {}
    for name, annotation in declared.items():
        if name not in namespace:
            raise InvalidInputError(f"parameter {name} is declared but has no value")
        value = namespace[name]
        if not _accepts(annotation, value):
            kind = getattr(annotation, "__name__", str(annotation))
            raise InvalidInputError(
                f"parameter {name}={value!r} is not of type {kind}",
                hint="pass it with the declared type (papermill -p parses numbers and booleans)",
            )
        values[name] = value
    return values
