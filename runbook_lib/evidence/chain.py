"""The hash chain of an incident's notebook runs: ``runs/chain.jsonl``.

One record per run; each carries the sha256 of the previous record, so
editing, removing or reordering a run breaks a link (:func:`verify_chain`).
"""

import json
from collections.abc import Iterable, Mapping
from enum import StrEnum
from pathlib import Path
from typing import Any, NotRequired, TypedDict

from runbook_lib.base.errors import WorkspaceError
from runbook_lib.base.fsutil import atomic_write_bytes, sha256_bytes
from runbook_lib.base.oslock import FileLock
from runbook_lib.evidence.layout import ARCHIVE_LOCK, CHAIN

GENESIS = "0" * 64


class RunStatus(StrEnum):
    """How a run ended, as its chain record says."""

    OK = "ok"
    FAILED = "failed"
    TIMEOUT = "timeout"
    INTERRUPTED = "interrupted"


class RunRecord(TypedDict):
    """One line of ``runs/chain.jsonl`` (older records may lack the ``NotRequired`` keys)."""

    incident: str
    notebook: str
    output: str | None
    status: str
    seq: int
    prev: str
    hash: str
    output_sha256: NotRequired[str | None]
    html: NotRequired[str | None]
    html_sha256: NotRequired[str | None]
    error: NotRequired[str | None]
    parameters: NotRequired[dict[str, Any]]
    parameters_sha256: NotRequired[str]
    notebook_sha256: NotRequired[str]
    started_at: NotRequired[str]
    duration_s: NotRequired[float]
    findings: NotRequired[list[str]]


class StartedRecord(TypedDict):
    """``runs/NN-*.started.json``: what a run is about to do, written before its kernel starts."""

    incident: str
    notebook: str
    output: str
    notebook_sha256: str
    parameters_sha256: str
    started_by: str
    started_at: str
    pid: int


def canonical(record: Mapping[str, Any]) -> bytes:
    """The bytes a record's hash covers: sorted-key JSON without the ``hash`` field."""
    body = {key: value for key, value in record.items() if key != "hash"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), default=str).encode()


def read_chain(incident_dir: Path) -> list[dict[str, Any]]:
    """The run records of an incident, in order.

    Raises:
        WorkspaceError: a line is not a JSON record (the chain was edited or damaged).
    """
    path = incident_dir / CHAIN
    if not path.is_file():
        return []
    records = []
    for number, line in enumerate(path.read_bytes().splitlines(), 1):
        try:
            record = json.loads(line) if line else None
        except ValueError:
            record = False
        if record is None:
            continue
        if not isinstance(record, dict):
            raise WorkspaceError(
                f"{CHAIN.as_posix()} line {number} is not a JSON record",
                hint="the chain was edited; 'runbook archive verify' names what else changed",
            )
        records.append(record)
    return records


def archive_lock(incident_dir: Path) -> FileLock:
    """The lock that orders writes of the chain and the seal of one incident."""
    return FileLock(str(incident_dir / ARCHIVE_LOCK), timeout=120)


def append_run(incident_dir: Path, record: Mapping[str, Any]) -> dict[str, Any]:
    """Append a run record linked to the previous one (adds ``seq``, ``prev``, ``hash``)."""
    with archive_lock(incident_dir):
        chain = read_chain(incident_dir)
        full = {**record, "seq": len(chain) + 1, "prev": chain[-1]["hash"] if chain else GENESIS}
        full["hash"] = sha256_bytes(canonical(full))
        path = incident_dir / CHAIN
        path.parent.mkdir(parents=True, exist_ok=True)
        existing = path.read_bytes() if path.is_file() else b""
        atomic_write_bytes(path, existing + json.dumps(full, sort_keys=True).encode() + b"\n")
        return full


def verify_chain(records: Iterable[Mapping[str, Any]]) -> list[str]:
    """Every broken link of a chain, as sentences naming the run."""
    problems: list[str] = []
    previous = GENESIS
    for position, record in enumerate(records, 1):
        name = f"run {record.get('seq', '?')} ({record.get('notebook', '?')})"
        if record.get("seq") != position:
            problems.append(f"chain: {name} is at position {position}")
        if record.get("prev") != previous:
            problems.append(f"chain: {name} does not link to the run before it")
        if sha256_bytes(canonical(record)) != record.get("hash"):
            problems.append(f"chain: {name} was edited (its hash no longer matches)")
        previous = str(record.get("hash"))
    return problems
