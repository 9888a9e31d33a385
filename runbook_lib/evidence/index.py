"""The archive's SQLite index: incidents, runs, decisions, checks and seals.

One file, ``<archive>/index.sqlite``, in WAL mode so that concurrent runs of
different incidents write without blocking readers. Every write is one short
transaction with a busy timeout; the index can always be rebuilt from the
incident directories, which stay the source of truth.
"""

from __future__ import annotations

import json
import os
import sqlite3
from _thread import get_ident
from collections.abc import Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS incidents (
    id TEXT PRIMARY KEY, title TEXT, severity TEXT, kind TEXT, state TEXT,
    opened_at TEXT, updated_at TEXT
);
CREATE TABLE IF NOT EXISTS runs (
    incident TEXT NOT NULL, seq INTEGER NOT NULL, notebook TEXT, status TEXT,
    output TEXT, output_sha256 TEXT, record_hash TEXT, started_at TEXT, duration_s REAL,
    PRIMARY KEY (incident, seq)
);
CREATE TABLE IF NOT EXISTS decisions (
    incident TEXT NOT NULL, decided_at TEXT NOT NULL, decision TEXT, strategy TEXT, data TEXT
);
CREATE TABLE IF NOT EXISTS checks (
    incident TEXT NOT NULL, source TEXT, name TEXT, status TEXT, summary TEXT,
    blocking INTEGER, recorded_at TEXT
);
CREATE TABLE IF NOT EXISTS seals (
    incident TEXT PRIMARY KEY, manifest_sha256 TEXT NOT NULL, sealed_at TEXT NOT NULL,
    files INTEGER
);
"""


def index_path(archive: Path) -> Path:
    """Where the index of ``archive`` lives."""
    return archive / "index.sqlite"


# Connections kept open by session(), per process, thread and index file.
_SESSIONS: dict[tuple[int, int, str], sqlite3.Connection] = {}


def _session_key(archive: Path) -> tuple[int, int, str]:
    return os.getpid(), get_ident(), os.path.abspath(index_path(archive))


def _open(archive: Path) -> sqlite3.Connection:
    archive.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(index_path(archive), timeout=60.0)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA busy_timeout = 60000")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    if conn.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
        conn.executescript(_SCHEMA)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    return conn


@contextmanager
def session(archive: Path) -> Iterator[None]:
    """Use one connection for every index write of a command, closed once at its end.

    Each write is still its own committed transaction; what the session saves is
    opening the file and, at each close, checkpointing its write-ahead log, which
    a command of a dozen writes (``runbook rollback now``) would otherwise do a
    dozen times. The index file is complete again when the session ends.
    """
    key = _session_key(archive)
    if key in _SESSIONS:
        yield
        return
    _SESSIONS[key] = _open(archive)
    try:
        yield
    finally:
        _SESSIONS.pop(key).close()


@contextmanager
def connect(archive: Path) -> Iterator[sqlite3.Connection]:
    """A connection to the archive's index in WAL mode; commits on success."""
    kept = _SESSIONS.get(_session_key(archive))
    if kept is not None:
        with kept:
            yield kept
        return
    with closing(_open(archive)) as conn, conn:
        yield conn


def upsert_incident(archive: Path, incident: Mapping[str, Any]) -> None:
    """Insert or update an incident's row."""
    with connect(archive) as conn:
        conn.execute(
            "INSERT INTO incidents VALUES (:id, :title, :severity, :kind, :state, :opened_at, "
            ":updated_at) ON CONFLICT(id) DO UPDATE SET title=excluded.title, "
            "severity=excluded.severity, kind=excluded.kind, state=excluded.state, "
            "updated_at=excluded.updated_at",
            {
                key: incident.get(key)
                for key in ("id", "title", "severity", "kind", "state", "opened_at", "updated_at")
            },
        )


def add_run(archive: Path, record: Mapping[str, Any]) -> None:
    """Record one notebook run (its chain record)."""
    with connect(archive) as conn:
        conn.execute(
            "INSERT OR REPLACE INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                record["incident"],
                record["seq"],
                record["notebook"],
                record["status"],
                record["output"],
                record.get("output_sha256"),
                record["hash"],
                record.get("started_at"),
                record.get("duration_s"),
            ),
        )


def add_decision(
    archive: Path, incident: str, decided_at: str, decision: Mapping[str, Any]
) -> None:
    """Record a decision; its ``outcome`` (or a SAC decision's ``scenario``) names it."""
    name = decision.get("decision") or decision.get("outcome") or decision.get("scenario")
    with connect(archive) as conn:
        conn.execute(
            "INSERT INTO decisions VALUES (?, ?, ?, ?, ?)",
            (
                incident,
                decided_at,
                name,
                decision.get("strategy"),
                json.dumps(decision, sort_keys=True, default=str),
            ),
        )


def add_checks(
    archive: Path, incident: str, source: str, recorded_at: str, checks: Sequence[Mapping[str, Any]]
) -> None:
    """Record check results (``source`` says which run or command produced them)."""
    with connect(archive) as conn:
        conn.executemany(
            "INSERT INTO checks VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    incident,
                    source,
                    c["name"],
                    c["status"],
                    c.get("summary"),
                    int(bool(c.get("blocking", True))),
                    recorded_at,
                )
                for c in checks
            ],
        )


def record_seal(
    archive: Path, incident: str, manifest_sha256: str, sealed_at: str, files: int
) -> None:
    """Anchor an incident's manifest hash outside the incident directory."""
    with connect(archive) as conn:
        conn.execute(
            "INSERT OR REPLACE INTO seals VALUES (?, ?, ?, ?)",
            (incident, manifest_sha256, sealed_at, files),
        )


def query(archive: Path, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
    """Rows of a read-only query as dicts."""
    if not index_path(archive).is_file():
        return []
    with connect(archive) as conn:
        return [dict(row) for row in conn.execute(sql, params)]
