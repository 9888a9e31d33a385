"""Redact declared secrets from a run's outputs as papermill writes them.

Papermill saves the output notebook after every cell. Its writes go through a
registered I/O handler: the output path is given to papermill with
:data:`PREFIX` in front, so every save passes through :func:`_write`, which
replaces each form of a secret (raw, JSON- and HTML-escaped...) with ``***``
before the bytes reach the disk. A kernel that prints a secret therefore
never leaves it in the archive, and the run records which secrets it masked,
each with a salted digest of the value removed (:meth:`Redaction.digests`),
so the redacted evidence still proves what it held.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from runbook_lib.base.fsutil import atomic_write_text
from runbook_lib.target.redaction_digest import RedactedDigest, digest_secret
from runbook_lib.target.secrets import redact_text

PREFIX = "runbook-redact:"
MASK = "***"


@dataclass
class Redaction:
    """The secrets one output is redacted of, and the names found so far."""

    secrets: Mapping[str, str]
    found: set[str] = field(default_factory=set)

    def apply(self, text: str) -> str:
        """``text`` with every secret masked; remembers which ones were there."""
        redacted, names = redact_text(text, self.secrets, MASK)
        self.found.update(names)
        return redacted

    def digests(self) -> tuple[RedactedDigest, ...]:
        """A salted digest of each secret that was masked, for the seal's statement."""
        return tuple(digest_secret(name, self.secrets[name]) for name in sorted(self.found))

    def finding(self) -> list[str]:
        """One sentence per secret that was printed and masked."""
        return [
            f"the kernel printed the secret ${name}; it was redacted as {MASK} in the outputs"
            for name in sorted(self.found)
        ]


_active: dict[str, Redaction] = {}
_guard = threading.Lock()


def _local(path: str) -> str:
    return path.removeprefix(PREFIX)


class _Handler:
    """Papermill I/O handler for :data:`PREFIX` paths (papermill calls it by class)."""

    @classmethod
    def read(cls, path: str) -> str:
        return Path(_local(path)).read_text(encoding="utf-8")

    @classmethod
    def write(cls, buf: str, path: str) -> None:
        local = _local(path)
        with _guard:
            redaction = _active.get(local)
        # Papermill saves before and after each cell: atomic, not flushed to disk each
        # time (about 8 ms a save); the run's final copy is written durably (mark_run).
        text = redaction.apply(buf) if redaction else buf
        atomic_write_text(Path(local), text, durable=False)

    @classmethod
    def listdir(cls, path: str) -> list[str]:
        return [str(p) for p in Path(_local(path)).iterdir()]

    @classmethod
    def pretty_path(cls, path: str) -> str:
        return _local(path)


def _register() -> None:
    from papermill.iorw import papermill_io

    if not any(scheme == PREFIX for scheme, _ in papermill_io._handlers):
        papermill_io.register(PREFIX, _Handler)


@contextlib.contextmanager
def redacting(output: Path, secrets: Mapping[str, str]) -> Iterator[tuple[str, Redaction]]:
    """Give papermill an output path whose every save is redacted of ``secrets``."""
    _register()
    redaction = Redaction(dict(secrets))
    key = str(output)
    with _guard:
        _active[key] = redaction
    try:
        yield PREFIX + key, redaction
    finally:
        with _guard:
            _active.pop(key, None)
