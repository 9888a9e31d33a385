"""The line of every key of a TOML text: ``tomllib`` gives values but no positions.

:func:`key_lines` scans the text once for table headers and ``key =`` lines
and maps every key path (array-of-tables entries by their index) to its line,
so that a validation error can say ``runbook.toml:12:``.
"""

from __future__ import annotations

import re

KeyPath = tuple[str | int, ...]

_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\[\]]+?)\s*\]\]?\s*(?:#.*)?$")
_KEY_PART = r"""(?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*')"""
_KEY = re.compile(rf"^\s*({_KEY_PART}(?:\s*\.\s*{_KEY_PART})*)\s*=")


def _split_dotted(key: str) -> list[str]:
    return [part.strip().strip("\"'") for part in key.split(".")]


def key_lines(text: str) -> dict[KeyPath, int]:
    """Every table's and key's first line in ``text`` (1-based), by key path."""
    lines: dict[KeyPath, int] = {}
    table: KeyPath = ()
    array_counts: dict[KeyPath, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        header = _HEADER.match(line)
        if header:
            path: KeyPath = tuple(_split_dotted(header.group(2)))
            if header.group(1) == "[[":
                array_counts[path] = array_counts.get(path, -1) + 1
                path = (*path, array_counts[path])
            table = path
            lines.setdefault(table, number)
            continue
        key = _KEY.match(line)
        if key:
            lines.setdefault((*table, *_split_dotted(key.group(1))), number)
    return lines
