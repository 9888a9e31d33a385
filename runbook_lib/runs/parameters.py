"""A notebook's declared parameters and the values given for them on the command line.

Read with papermill's own inspection; checked before any kernel starts.
"""

from __future__ import annotations

import ast
import contextlib
import io
import tokenize
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from runbook_lib.base.errors import InvalidInputError

_OPTIONAL_SUFFIXES = ("| None", "|None")


@dataclass(frozen=True)
class ParameterSpec:
    """One line of a notebook's ``parameters`` cell: ``name: type = value  # help``."""

    name: str
    type: str | None
    default: str
    help: str = ""

    def describe(self) -> str:
        """``name: type = default`` for messages."""
        kind = f": {self.type}" if self.type else ""
        return f"{self.name}{kind} = {self.default}"


def _read_notebook(path: Path) -> Any:
    import nbformat

    if not path.is_file():
        raise InvalidInputError(
            f"notebook {path} does not exist", hint="pass the path of an .ipynb file"
        )
    read = cast(Callable[..., Any], nbformat.read)  # nbformat is untyped
    try:
        return read(path, as_version=4)
    except Exception as err:  # nbformat raises several unrelated types for a bad file
        raise InvalidInputError(f"{path} is not a readable notebook: {err}") from err


def _comments(source: str) -> dict[int, str]:
    found: dict[int, str] = {}
    with contextlib.suppress(tokenize.TokenError, IndentationError):
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type == tokenize.COMMENT:
                found[token.start[0]] = token.string.lstrip("#").strip()
    return found


def _specs_of(source: str, notebook: Path) -> list[ParameterSpec]:
    try:
        tree = ast.parse(source)
    except SyntaxError as err:
        raise InvalidInputError(
            f"the parameters cell of {notebook} is not plain Python (line {err.lineno})",
            hint="write it as 'name: type = value  # help' lines",
        ) from err
    comments = _comments(source)
    specs = []
    for stmt in tree.body:
        if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
            name, kind, value = stmt.target.id, ast.unparse(stmt.annotation), stmt.value
        elif (
            isinstance(stmt, ast.Assign)
            and len(stmt.targets) == 1
            and isinstance(stmt.targets[0], ast.Name)
        ):
            name, kind, value = stmt.targets[0].id, None, stmt.value
        else:
            continue
        default = ast.unparse(value) if value is not None else ""
        specs.append(ParameterSpec(name, kind, default, comments.get(stmt.end_lineno or 0, "")))
    return specs


def read_parameters(notebook: Path) -> list[ParameterSpec]:
    """The parameters a notebook accepts, from its cell tagged ``parameters``.

    Raises:
        InvalidInputError: the notebook is missing or unreadable, or its
            parameters cell is not plain Python.
    """
    nb = _read_notebook(notebook)
    for cell in nb.cells:
        if cell.get("cell_type") == "code" and "parameters" in cell.get("metadata", {}).get(
            "tags", []
        ):
            return _specs_of("".join(cell.get("source", "")), notebook)
    return []


def parse_value(text: str) -> Any:
    """A ``-p`` value as papermill's command line reads it: bool, None, int, float or str."""
    literals: dict[str, Any] = {"True": True, "False": False, "None": None}
    if text in literals:
        return literals[text]
    for kind in (int, float):
        with contextlib.suppress(ValueError):
            return kind(text)
    return text


def _base_type(annotation: str | None) -> tuple[str | None, bool]:
    if annotation is None:
        return None, False
    text = annotation.replace(" ", "")
    for form in ("|None", "None|"):
        if form in text:
            return text.replace(form, ""), True
    if text.startswith("Optional[") and text.endswith("]"):
        return text[len("Optional[") : -1], True
    return text, False


def _coerce(spec: ParameterSpec, text: str) -> Any:
    base, optional = _base_type(spec.type)
    if optional and text == "None":
        return None
    try:
        if base == "str":
            return text
        if base == "int":
            return int(text)
        if base == "float":
            return float(text)
        if base == "bool":
            return {"true": True, "false": False}[text.lower()]
    except (ValueError, KeyError):
        raise InvalidInputError(
            f"parameter {spec.name!r} takes {spec.type}, got {text!r}",
            hint=f"the notebook declares {spec.describe()}"
            + (f"  # {spec.help}" if spec.help else ""),
        ) from None
    return parse_value(text)


def _unknown(name: str, specs: Sequence[ParameterSpec], notebook: Path) -> InvalidInputError:
    accepted = "; ".join(s.describe() + (f" ({s.help})" if s.help else "") for s in specs)
    return InvalidInputError(
        f"notebook {notebook.name} has no parameter {name!r}",
        hint=f"it accepts: {accepted}"
        if specs
        else "it has no cell tagged 'parameters', so it accepts none",
    )


def parameters_from_text(notebook: Path, pairs: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """Parse ``-p NAME VALUE`` pairs against the notebook's parameters cell.

    A value is converted to the declared type (``int``, ``float``, ``bool``,
    ``str``, optionally ``| None``); undeclared types are read as papermill's
    ``-p`` reads them.

    Raises:
        InvalidInputError: an unknown name (the message lists the accepted
            ones) or a value that does not fit the declared type.
    """
    specs = {spec.name: spec for spec in read_parameters(notebook)}
    values: dict[str, Any] = {}
    for name, text in pairs:
        if name not in specs:
            raise _unknown(name, list(specs.values()), notebook)
        values[name] = _coerce(specs[name], text)
    return values


def check_parameter_names(notebook: Path, parameters: Mapping[str, Any]) -> None:
    """Refuse a parameter the notebook does not declare (the message lists those it does)."""
    specs = read_parameters(notebook)
    known = {spec.name for spec in specs}
    for name in parameters:
        if name not in known:
            raise _unknown(name, specs, notebook)
