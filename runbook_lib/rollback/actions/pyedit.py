"""Source edits located with :mod:`ast`, applied as minimal text changes.

Only the characters of one value change; comments and formatting elsewhere in
the module stay as they were, so the diff an operator reviews is one line.
"""

from __future__ import annotations

import ast
from typing import NamedTuple

from runbook_lib.base.errors import InvalidInputError


class Edit(NamedTuple):
    """One replacement of a source span (1-based line, 0-based column offsets)."""

    line: int
    start: tuple[int, int]
    end: tuple[int, int]
    new_text: str
    old_text: str


def _offset(lines: list[str], position: tuple[int, int]) -> int:
    line, column = position
    return sum(len(text) for text in lines[: line - 1]) + len(
        lines[line - 1].encode("utf-8")[:column].decode("utf-8")
    )


def apply_edit(source: str, edit: Edit) -> str:
    """Return ``source`` with ``edit`` applied."""
    lines = source.splitlines(keepends=True)
    begin, finish = _offset(lines, edit.start), _offset(lines, edit.end)
    return source[:begin] + edit.new_text + source[finish:]


def _parse(source: str, filename: str) -> ast.Module:
    try:
        return ast.parse(source, filename=filename)
    except SyntaxError as err:
        raise InvalidInputError(
            f"{filename}:{err.lineno}: cannot parse the module ({err.msg})",
            hint="fix the syntax error before planning this rollback",
        ) from err


def _assigned_value(node: ast.stmt, name: str) -> ast.expr | None:
    if isinstance(node, ast.Assign) and any(
        isinstance(t, ast.Name) and t.id == name for t in node.targets
    ):
        return node.value
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        return node.value if node.target.id == name else None
    return None


def constant_edit(source: str, name: str, new_value: str, *, filename: str) -> Edit:
    """Locate the module-level ``name = ...`` and plan its value as ``new_value``.

    Raises:
        InvalidInputError: the module does not assign ``name`` exactly once at top level.
    """
    tree = _parse(source, filename)
    found = [value for node in tree.body if (value := _assigned_value(node, name)) is not None]
    if len(found) != 1:
        raise InvalidInputError(
            f"{filename}: expected one module-level assignment of {name}, found {len(found)}",
            hint="check the force-flag location in runbook.toml",
        )
    value = found[0]
    return _span_edit(source, value, new_value)


def _span_edit(source: str, node: ast.expr, new_text: str) -> Edit:
    _require_positions(node)
    old = ast.get_source_segment(source, node) or ""
    return Edit(
        line=node.lineno,
        start=(node.lineno, node.col_offset),
        end=(node.end_lineno or node.lineno, node.end_col_offset or node.col_offset),
        new_text=new_text,
        old_text=old,
    )


def _require_positions(node: ast.AST) -> None:
    if getattr(node, "end_lineno", None) is None:
        raise InvalidInputError("the node to edit carries no source positions")


def read_constant(source: str, name: str, *, filename: str) -> object:
    """Return the literal value of the module-level constant ``name``."""
    edit = constant_edit(source, name, "", filename=filename)
    try:
        return ast.literal_eval(edit.old_text)
    except ValueError as err:
        raise InvalidInputError(f"{filename}:{edit.line}: {name} is not a literal") from err


def _called_name(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return None


def find_calls(source: str, function: str, *, filename: str) -> list[ast.Call]:
    """Every call of ``function`` (by name or as an attribute) in the module."""
    tree = _parse(source, filename)
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and _called_name(node) == function
    ]


def imports_name(source: str, name: str, *, filename: str) -> bool:
    """Tell whether the module binds ``name`` by an import."""
    tree = _parse(source, filename)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom | ast.Import):
            for alias in node.names:
                if (alias.asname or alias.name.split(".")[0]) == name:
                    return True
    return False


def keyword_edit(source: str, function: str, keyword: str, value: str, *, filename: str) -> Edit:
    """Plan ``function(..., keyword=value)`` at the module's single call site.

    An existing ``keyword=`` has its value replaced; otherwise the keyword is
    added before the closing parenthesis.

    Raises:
        InvalidInputError: the module has no call of ``function``, or more than one.
    """
    calls = find_calls(source, function, filename=filename)
    if len(calls) != 1:
        where = ", ".join(str(c.lineno) for c in calls) or "none"
        raise InvalidInputError(
            f"{filename}: expected one call of {function}() as the designated call site, "
            f"found {len(calls)} (lines: {where})",
            hint="name a module with exactly one call in runbook.toml",
        )
    call = calls[0]
    for existing in call.keywords:
        if existing.arg == keyword:
            return _span_edit(source, existing.value, value)
    paren = (call.end_lineno or call.lineno, (call.end_col_offset or 1) - 1)
    lines = source.splitlines(keepends=True)
    paren_offset = _offset(lines, paren)
    before_paren = source[:paren_offset].rstrip()
    if before_paren.endswith(","):
        # Keep the call's layout: one argument per line stays one per line.
        between = source[len(before_paren) : paren_offset]
        if "\n" in between:
            last_line = before_paren.splitlines()[-1]
            indent = last_line[: len(last_line) - len(last_line.lstrip())]
            new_text = f"\n{indent}{keyword}={value},"
        else:
            new_text = f" {keyword}={value}"
        at = _position(lines, len(before_paren))
    else:
        new_text = f"{', ' if call.args or call.keywords else ''}{keyword}={value}"
        at = paren
    return Edit(line=call.lineno, start=at, end=at, new_text=new_text, old_text="")


def _position(lines: list[str], offset: int) -> tuple[int, int]:
    consumed = 0
    for number, text in enumerate(lines, 1):
        if offset <= consumed + len(text):
            return number, len(text[: offset - consumed].encode("utf-8"))
        consumed += len(text)
    return len(lines), len(lines[-1].encode("utf-8")) if lines else 0
