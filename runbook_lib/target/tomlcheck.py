"""Validate a parsed TOML document key by key, naming the file and line of each mistake.

``tomllib`` gives values but no positions, so :class:`Source` holds the line of
every key path too (:mod:`.tomllines`); the parse is cached between processes
by the text's digest (:mod:`.tomlcache`).
:class:`Table` wraps one table: it refuses unknown keys up front and offers
typed getters whose errors name the key, the table, the file and the line.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NamedTuple, NoReturn

from runbook_lib.base.errors import InvalidInputError
from runbook_lib.target import tomlcache

if TYPE_CHECKING:  # tomllines (and its regexes) is imported on a cache miss only
    from runbook_lib.target.tomllines import KeyPath

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_KNOWN_TOKEN_PREFIXES = (
    "ghp_",
    "gho_",
    "ghs_",
    "github_pat_",
    "glpat-",
    "sk-",
    "xoxb-",
    "xoxp-",
    "AKIA",
    "-----BEGIN",
)
_SECRET_NAME_PARTS = (
    "TOKEN",
    "SECRET",
    "PASSWORD",
    "PASSWD",
    "API_KEY",
    "PRIVATE_KEY",
    "CREDENTIAL",
)
_WORD_SPLIT = re.compile(r"[/?&=:@#.,;\s]+")


def table_name(path: KeyPath) -> str:
    """``[service]`` for a table's path, ``the top level`` for the document itself."""
    return f"[{describe(path)}]" if path else "the top level"


def describe(path: KeyPath) -> str:
    """Render a key path as TOML spells it: ``service.env.PYTHONPATH``, ``env.vars[1].name``."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


# A manifest is a few kilobytes; a huge one is a mistake or an attack on the parser.
MAX_TOML_BYTES = 1 << 20


def read_text(path: Path) -> str:
    """The text of the TOML file ``path``.

    Raises:
        InvalidInputError: the file is missing, unreadable, over 1 MiB or not UTF-8.
    """
    try:
        size = path.stat().st_size
        if size > MAX_TOML_BYTES:
            raise InvalidInputError(
                f"{path} is {size} bytes, over the {MAX_TOML_BYTES} "
                "(1 MiB) a manifest may have; refusing to parse it",
                hint="a runbook.toml is a few kilobytes; check that this is the right file",
            )
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise InvalidInputError(f"cannot read {path}: {err}") from err


class Source(NamedTuple):
    """A TOML file's path, text and parsed content, with a line for every key."""

    path: Path
    text: str
    data: dict[str, Any]
    lines: Mapping[KeyPath, int] = MappingProxyType({})

    @classmethod
    def read(cls, path: Path) -> Source:
        """Read and parse ``path``.

        Raises:
            InvalidInputError: the file is missing, unreadable, not UTF-8 or not valid TOML.
        """
        return cls.parse(path, read_text(path))

    @classmethod
    def parse(cls, path: Path, text: str) -> Source:
        """Parse ``text``, read from ``path``.

        Raises:
            InvalidInputError: ``text`` is not valid TOML.
        """
        data, lines = tomlcache.parse(path, text)
        return cls(path, text, data, lines)

    def line_of(self, path: KeyPath) -> int | None:
        """The line of ``path``, else of the nearest enclosing table that has one."""
        for length in range(len(path), 0, -1):
            line = self.lines.get(path[:length])
            if line is not None:
                return line
        return None

    def fail(self, path: KeyPath, problem: str, *, hint: str | None = None) -> NoReturn:
        """Raise :class:`InvalidInputError` for ``path`` with ``file:line:`` in front."""
        line = self.line_of(path)
        where = f"{self.path}:{line}" if line is not None else str(self.path)
        raise InvalidInputError(f"{where}: {problem}", hint=hint)


_TYPE_NAMES = {str: "a string", bool: "true or false", dict: "a table", list: "an array"}


class Table:
    """One table of a :class:`Source`, checked against the keys it accepts."""

    def __init__(
        self, source: Source, path: KeyPath, data: Mapping[str, Any], accepted: Sequence[str]
    ) -> None:
        self.source = source
        self.path = path
        self.data = data
        self.accepted = tuple(accepted)
        for key in data:
            if key not in self.accepted:
                source.fail(
                    (*path, key),
                    f"unknown key {key!r} in {table_name(path)}",
                    hint=f"accepted keys in {table_name(path)}: {', '.join(self.accepted)}",
                )

    def fail(self, key: str, problem: str, *, hint: str | None = None) -> NoReturn:
        """Raise an error about ``key`` of this table."""
        self.source.fail((*self.path, key), f"{describe((*self.path, key))}: {problem}", hint=hint)

    def has(self, key: str) -> bool:
        """Tell whether the table sets ``key``."""
        return key in self.data

    def _value(self, key: str, kind: type | tuple[type, ...], required: bool) -> Any:
        if key not in self.data:
            if required:
                self.source.fail(
                    self.path,
                    f"missing required key {key!r} in {table_name(self.path)}",
                    hint=f"accepted keys in {table_name(self.path)}: {', '.join(self.accepted)}",
                )
            return None
        value = self.data[key]
        if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
            expected = _TYPE_NAMES.get(kind, "a number") if isinstance(kind, type) else "a number"
            self.fail(key, f"must be {expected}, got {type(value).__name__} {value!r}")
        return value

    def text(self, key: str) -> str:
        """A required non-empty string."""
        value: str = self._value(key, str, True)
        if not value.strip():
            self.fail(key, "must not be empty")
        return value

    def opt_text(self, key: str, default: str | None = None) -> str | None:
        """An optional non-empty string."""
        return self.text(key) if key in self.data else default

    def number(self, key: str, default: float) -> float:
        """An optional number (integer or float)."""
        value = self._value(key, (int, float), False)
        return default if value is None else float(value)

    def texts(self, key: str, *, required: bool = True) -> tuple[str, ...]:
        """An array of non-empty strings (required unless told otherwise)."""
        value: list[Any] | None = self._value(key, list, required)
        if value is None:
            return ()
        for index, item in enumerate(value):
            if not isinstance(item, str) or not item.strip():
                self.fail(key, f"item {index} must be a non-empty string, got {item!r}")
        return tuple(value)

    def strings(self, key: str) -> dict[str, str]:
        """An optional table of string values."""
        value: dict[str, Any] | None = self._value(key, dict, False)
        for name, item in (value or {}).items():
            if not isinstance(item, str):
                self.source.fail(
                    (*self.path, key, name),
                    f"{describe((*self.path, key, name))}: must be a string, got {item!r}",
                )
        return dict(value or {})

    def table(self, key: str, accepted: Sequence[str]) -> Table:
        """A required sub-table."""
        value: dict[str, Any] = self._value(key, dict, True)
        return Table(self.source, (*self.path, key), value, accepted)

    def opt_table(self, key: str, accepted: Sequence[str]) -> Table | None:
        """An optional sub-table."""
        return self.table(key, accepted) if key in self.data else None

    def tables(self, key: str, accepted: Sequence[str]) -> list[Table]:
        """An optional array of tables (``[[key]]``)."""
        value: list[Any] | None = self._value(key, list, False)
        tables: list[Table] = []
        for index, item in enumerate(value or []):
            if not isinstance(item, dict):
                self.fail(key, f"item {index} must be a table, got {item!r}")
            tables.append(Table(self.source, (*self.path, key, index), item, accepted))
        return tables


def looks_like_secret(value: str) -> bool:
    """Tell whether a string looks like a credential rather than a name, path or version.

    Known token prefixes count, and so does any word of 24 or more characters
    that mixes upper case, lower case and digits (hex digests are lower case only).
    """
    if value.startswith(_KNOWN_TOKEN_PREFIXES):
        return True
    for word in _WORD_SPLIT.split(value):
        if word.startswith(_KNOWN_TOKEN_PREFIXES):
            return True
        mixed = (
            any(c.isupper() for c in word)
            and any(c.islower() for c in word)
            and any(c.isdigit() for c in word)
        )
        if len(word) >= 24 and mixed:
            return True
    return False


def is_env_name(value: str) -> bool:
    """Tell whether ``value`` can name an environment variable."""
    return bool(_ENV_NAME.match(value))


def names_a_secret(name: str) -> bool:
    """Tell whether a variable name suggests it holds a credential (``*_TOKEN``, ``*PASSWORD``)."""
    upper = name.upper()
    return any(part in upper for part in _SECRET_NAME_PARTS)


def find_secrets(source: Source) -> None:
    """Refuse every string in the document that looks like a literal credential.

    Raises:
        InvalidInputError: naming the key and line, and saying where secrets belong.
    """
    hint = (
        "runbook.toml holds only the names of environment variables: list the name in "
        "'secrets = [\"NAME\"]' and set the variable in the environment"
    )

    def walk(value: Any, path: KeyPath) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                walk(item, (*path, key))
        elif isinstance(value, list):
            for index, item in enumerate(value):
                walk(item, (*path, index) if isinstance(item, dict) else path)
        elif isinstance(value, str) and looks_like_secret(value):
            source.fail(path, f"{describe(path)} looks like a literal secret", hint=hint)

    walk(source.data, ())
