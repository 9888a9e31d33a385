"""Parsed TOML by the text's sha256, kept in the runbook's cache between processes.

A target's ``runbook.toml`` changes rarely and is read by every command;
importing :mod:`tomllib` and parsing costs ``runbook rollback now`` about a
twentieth of its time (seed 000's immediate rollback must start at once). So
the parsed document and the line of each key (:mod:`.tomllines`) are saved as
JSON under ``<cache>/toml/<sha256 of the text>.json``
(:func:`runbook_lib.base.cachedir.default_cache_dir`). The key is the text
itself: an edited file is a new key, never a stale hit. Only documents that JSON
holds exactly are saved (no TOML dates or times); a cache entry that is missing,
unreadable or not what this module writes is parsed again, and a cache that
cannot be written is skipped. The validation (:mod:`.tomlcheck`) runs on every
read either way.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runbook_lib.base.cachedir import default_cache_dir
from runbook_lib.base.errors import InvalidInputError
from runbook_lib.base.fsutil import atomic_write_text, sha256_bytes

if TYPE_CHECKING:  # tomllines (and its regexes) is imported on a miss only
    from runbook_lib.target.tomllines import KeyPath

# Part of every entry's name: a new format (or a new way to find lines) misses old entries.
FORMAT = 1


def cache_path(text: str) -> Path:
    """Where the parse of ``text`` is kept."""
    digest = sha256_bytes(text.encode("utf-8"))
    return default_cache_dir() / "toml" / f"{digest}.v{FORMAT}.json"


def parse(path: Path, text: str) -> tuple[dict[str, Any], dict[KeyPath, int]]:
    """The document ``text`` (read from ``path``) and the line of each of its keys.

    Raises:
        InvalidInputError: ``text`` is not valid TOML.
    """
    entry = cache_path(text)
    cached = _read(entry)
    if cached is not None:
        return cached
    import tomllib  # only on a miss: the import is most of what a hit saves

    from runbook_lib.target.tomllines import key_lines

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise InvalidInputError(
            f"{path}: not valid TOML: {err}", hint="fix the syntax at the position shown"
        ) from err
    lines = key_lines(text)
    if _json_exact(data):
        _write(entry, data, lines)
    return data, lines


def _json_exact(value: object) -> bool:
    """Whether ``value`` comes back from JSON as it is (no dates, no non-finite floats)."""
    if isinstance(value, dict):
        return all(isinstance(k, str) and _json_exact(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_json_exact(item) for item in value)
    if isinstance(value, float):
        return math.isfinite(value)
    return isinstance(value, str | int | bool)


def _read(entry: Path) -> tuple[dict[str, Any], dict[KeyPath, int]] | None:
    try:
        saved = json.loads(entry.read_bytes())
        data, pairs = saved["data"], saved["lines"]
        if not isinstance(data, dict):
            return None
        lines: dict[KeyPath, int] = {}
        for *key, line in pairs:
            if not isinstance(line, int) or not all(isinstance(p, str | int) for p in key):
                return None
            lines[tuple(key)] = line
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return data, lines


def _write(entry: Path, data: dict[str, Any], lines: dict[KeyPath, int]) -> None:
    """Save the entry (temp file, then rename: a reader never sees half of one)."""
    body = {"data": data, "lines": [[*key, line] for key, line in lines.items()]}
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        # Not flushed to disk: an entry lost in a crash costs one more parse, no evidence.
        atomic_write_text(entry, json.dumps(body, separators=(",", ":")), durable=False)
    except OSError:
        pass  # a read-only or full cache: parse next time again
