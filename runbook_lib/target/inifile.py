"""Edit one key of an INI file in place, keeping every comment and blank line.

``configparser`` rewrites a whole file and drops comments; a rollback must
change one value and nothing else, so this works on lines.
"""

from __future__ import annotations

import configparser
import re
from dataclasses import dataclass

from runbook_lib.base.errors import InvalidInputError

_SECTION = re.compile(r"^\s*\[(?P<name>[^\]]+)\]\s*(?:[#;].*)?$")
_KEY = re.compile(r"^(?P<indent>\s*)(?P<key>[^=:#;\s][^=:]*?)\s*(?P<sep>[=:])\s*(?P<value>.*?)\s*$")
_INLINE_COMMENT = re.compile(r"\s+[#;].*$")


@dataclass(frozen=True)
class IniValue:
    """Where a key sits in an INI text and what it holds."""

    section: str
    key: str
    value: str | None
    line: int | None


def strict_parse(text: str, source: str) -> configparser.ConfigParser:
    """Parse ``text`` as the target's own reader does (strict: no duplicate section or key).

    Raises:
        InvalidInputError: naming ``source``, the line and the problem.
    """
    parser = configparser.ConfigParser(
        interpolation=None, inline_comment_prefixes=("#", ";"), strict=True
    )
    try:
        parser.read_string(text, source=source)
    except configparser.Error as err:
        line = getattr(err, "lineno", None)
        problem = err.message.splitlines()[0]
        if isinstance(err, configparser.ParsingError) and err.errors:
            line, bad = err.errors[0]
            problem = f"cannot parse {bad}: not '[section]', 'key = value' or a comment"
        where = f"{source} line {line}" if line else source
        raise InvalidInputError(
            f"{where}: {problem}; the target's config reader would refuse this file",
            hint="fix the file (each section and key once, 'key = value' lines) and plan again",
        ) from None
    return parser


def effective_value(text: str, section: str, key: str, source: str) -> str | None:
    """The value the target's reader sees for ``[section] key`` (``None`` when absent)."""
    parser = strict_parse(text, source)
    return parser.get(section, key, fallback=None) if parser.has_section(section) else None


def _split_comment(raw: str) -> tuple[str, str]:
    match = _INLINE_COMMENT.search(raw)
    if match is None:
        return raw, ""
    return raw[: match.start()], raw[match.start() :]


def _section_bounds(lines: list[str], section: str) -> tuple[int, int] | None:
    start: int | None = None
    for index, line in enumerate(lines):
        match = _SECTION.match(line)
        if match is None:
            continue
        if start is not None:
            return start, index
        if match.group("name").strip() == section:
            start = index
    return (start, len(lines)) if start is not None else None


def read_value(text: str, section: str, key: str) -> IniValue:
    """Return the value of ``[section] key`` (``None`` when the key is absent)."""
    lines = text.splitlines(keepends=True)
    bounds = _section_bounds(lines, section)
    if bounds is not None:
        for index in range(bounds[0] + 1, bounds[1]):
            match = _KEY.match(lines[index].rstrip("\r\n"))
            if match and match.group("key").strip().lower() == key.lower():
                value, _ = _split_comment(match.group("value"))
                return IniValue(section, key, value.strip(), index + 1)
    return IniValue(section, key, None, None)


def set_value(text: str, section: str, key: str, value: str) -> str:
    """Return ``text`` with ``[section] key = value``, everything else unchanged.

    An existing key keeps its indentation, separator and inline comment; a
    missing key is added at the end of its section (after the section's last
    non-blank line); a missing section is appended.

    Raises:
        InvalidInputError: ``value`` spans lines or the section name is empty.
    """
    if "\n" in value or "\r" in value:
        raise InvalidInputError(f"an INI value must be one line, got {value!r}")
    if not section.strip():
        raise InvalidInputError("the INI section name is empty")
    lines = text.splitlines(keepends=True)
    newline = "\r\n" if lines and lines[0].endswith("\r\n") else "\n"
    bounds = _section_bounds(lines, section)
    if bounds is None:
        tail = "" if not lines or lines[-1].endswith(("\n", "\r")) else newline
        gap = newline if text.strip() else ""
        return f"{text}{tail}{gap}[{section}]{newline}{key} = {value}{newline}"
    start, end = bounds
    for index in range(start + 1, end):
        line = lines[index]
        body = line.rstrip("\r\n")
        match = _KEY.match(body)
        if match and match.group("key").strip().lower() == key.lower():
            _, comment = _split_comment(match.group("value"))
            prefix = body[: match.start("value")]
            lines[index] = f"{prefix}{value}{comment}{line[len(body) :] or newline}"
            return "".join(lines)
    insert_at = end
    while insert_at > start + 1 and not lines[insert_at - 1].strip():
        insert_at -= 1
    if not lines[insert_at - 1].endswith(("\n", "\r")):
        lines[insert_at - 1] += newline
    lines.insert(insert_at, f"{key} = {value}{newline}")
    return "".join(lines)
