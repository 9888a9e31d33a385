"""The incident's journal: ``journal.jsonl``, one JSON record per line, each fsynced.

Every step of a rollback appends an ``intent`` record before it changes
anything and an ``outcome`` record after, with the hashes of its files before
and after where the caller gives them. A record counts once :meth:`Journal.append`
returns: the line and its newline are on disk. Only a ``begin`` or an ``outcome``
record waits for the record that always follows it (an ``intent`` or the
``end``), whose fsync puts both on disk: nothing changes between the two, and
losing them in a power cut leaves what a crash just before them leaves, which a
resume already handles.

A crash in the middle of an append leaves a torn last line (bytes after the
last newline). :func:`read_journal` reports it instead of failing, and the next
append cuts it off and records what was cut in a ``torn-line-dropped`` record,
so the journal never holds a broken line in its middle. A broken line that is
not the last one is damage, not a crash, and is an error.
"""

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, NamedTuple, NotRequired, Self, TypedDict

from runbook_lib.base.durable import fsync_dir
from runbook_lib.base.errors import WorkspaceError
from runbook_lib.base.fsutil import sha256_file
from runbook_lib.base.oslock import FileLock

JOURNAL_FILE = "journal.jsonl"
Record = dict[str, Any]


class JournalEvent(StrEnum):
    """The kinds of journal records (the ``event`` field); written as their plain string value."""

    BEGIN = "begin"
    INTENT = "intent"
    OUTCOME = "outcome"
    END = "end"
    RESUME = "resume"
    PLAN = "plan"
    RUN = "run"
    RUN_STARTED = "run-started"
    RUN_INTERRUPTED = "run-interrupted"
    DECISION = "decision"
    CHECKS = "checks"
    READINESS = "readiness"
    NOTIFY = "notify"
    NOTIFY_FAILED = "notify-failed"
    SEALED_BY_HAND = "sealed-by-hand"
    TORN_LINE_DROPPED = "torn-line-dropped"


# Always followed by an intent or the end record, before anything changes (see above).
_SYNCED_BY_NEXT = frozenset({JournalEvent.BEGIN, JournalEvent.OUTCOME})


class JournalRecord(TypedDict):
    """The fields every journal line has; each event adds its own (``step``, ``plan``, ``path``...).

    Readers get :data:`Record` (a plain dict): old journals stay readable as they are.
    """

    at: str
    event: str
    path: NotRequired[str]
    step: NotRequired[int | str]
    operation: NotRequired[str]
    plan: NotRequired[str]


class TornLine(NamedTuple):
    """The unfinished last line a crash left behind."""

    line: int
    offset: int
    fragment: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return self._asdict()


class JournalContents(NamedTuple):
    """Every complete record of a journal, and its torn last line if there is one."""

    path: Path
    records: tuple[Record, ...]
    torn: TornLine | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "path": str(self.path),
            "records": list(self.records),
            "torn": self.torn.to_dict() if self.torn else None,
        }


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _parse(path: Path, data: bytes) -> JournalContents:
    cut = data.rfind(b"\n") + 1
    records: list[Record] = []
    for number, raw in enumerate(data[:cut].splitlines(), start=1):
        try:
            record = json.loads(raw)
        except ValueError as err:
            raise WorkspaceError(
                f"{path} line {number} is not JSON ({err}); the journal is damaged",
                hint="keep the file as evidence and start a new incident",
            ) from err
        if not isinstance(record, dict):
            raise WorkspaceError(f"{path} line {number} is not a JSON object; it is damaged")
        records.append(record)
    torn = None
    if cut < len(data):
        fragment = data[cut:].decode("utf-8", errors="replace")
        torn = TornLine(line=len(records) + 1, offset=cut, fragment=fragment)
    return JournalContents(path, tuple(records), torn)


def read_journal(path: Path) -> JournalContents:
    """Read a journal; a missing file is an empty journal.

    Raises:
        WorkspaceError: a line other than the last is not a JSON object.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return JournalContents(path, ())
    return _parse(path, data)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


class Journal:
    """Appends records to one ``journal.jsonl``; callable, so it fits ``Callable[[dict], None]``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = FileLock(path.with_name(path.name + ".lock"), timeout=30)

    @classmethod
    def for_incident(cls, incident_dir: Path) -> Self:
        """The journal of the incident stored in ``incident_dir``."""
        return cls(incident_dir / JOURNAL_FILE)

    def __call__(self, record: Mapping[str, Any]) -> None:
        """Append ``record``; see :meth:`append`."""
        self.append(record)

    def append(self, record: Mapping[str, Any]) -> Record:
        """Write ``record`` (with an ``at`` timestamp unless it has one) as one fsynced line.

        Returns:
            The record as written.

        Raises:
            TypeError: the record is not JSON-serializable (nothing is written).
        """
        written = {"at": _now(), **record}
        line = json.dumps(written, sort_keys=True, ensure_ascii=False).encode() + b"\n"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock:
            created = not self.path.exists()
            self._drop_torn_tail()
            self._write_line(line, sync=written["event"] not in _SYNCED_BY_NEXT)
        if created:
            fsync_dir(self.path.parent)
        return written

    def _write_line(self, line: bytes, *, sync: bool = True) -> None:
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            _write_all(fd, line)
            if sync:
                os.fsync(fd)
        finally:
            os.close(fd)

    def _drop_torn_tail(self) -> None:
        if not self.path.exists():
            return
        contents = _parse(self.path, self.path.read_bytes())
        if contents.torn is None:
            return
        with self.path.open("rb+") as handle:
            handle.truncate(contents.torn.offset)
            handle.flush()
            os.fsync(handle.fileno())
        note = {"at": _now(), "event": JournalEvent.TORN_LINE_DROPPED, **contents.torn.to_dict()}
        self._write_line(json.dumps(note, sort_keys=True).encode() + b"\n")

    def intent(
        self,
        step: int | str,
        action: str,
        *,
        hashes_before: Mapping[str, str | None] | None = None,
        **fields: Any,
    ) -> Record:
        """Record that ``step`` is about to run ``action`` (before it changes anything)."""
        record: Record = {"event": JournalEvent.INTENT, "step": step, "action": action, **fields}
        if hashes_before is not None:
            record["hashes_before"] = dict(hashes_before)
        return self.append(record)

    def outcome(
        self,
        step: int | str,
        status: str,
        *,
        hashes_after: Mapping[str, str | None] | None = None,
        **fields: Any,
    ) -> Record:
        """Record how ``step`` ended (``done``, ``failed``...) after it ran."""
        record: Record = {"event": JournalEvent.OUTCOME, "step": step, "status": status, **fields}
        if hashes_after is not None:
            record["hashes_after"] = dict(hashes_after)
        return self.append(record)

    def read(self) -> JournalContents:
        """The journal's records and torn last line; see :func:`read_journal`."""
        return read_journal(self.path)


def file_hashes(root: Path, paths: Iterable[str]) -> dict[str, str | None]:
    """The sha256 of each path under ``root`` (``None`` for a missing file)."""
    return {p: sha256_file(root / p) if (root / p).is_file() else None for p in paths}


def _step_key(record: Record) -> tuple[Any, Any, Any]:
    return record.get("operation"), record.get("plan"), record.get("step")


def open_intents(records: Sequence[Record]) -> list[Record]:
    """Every intent with no later outcome for the same step (of the same operation and plan)."""
    pending: dict[tuple[Any, Any, Any], Record] = {}
    for record in records:
        event = record.get("event")
        if event == JournalEvent.INTENT:
            pending.pop(_step_key(record), None)  # re-insert: dict order is record order
            pending[_step_key(record)] = record
        elif event == JournalEvent.OUTCOME:
            pending.pop(_step_key(record), None)
    return list(pending.values())


def last_open_intent(records: Sequence[Record]) -> Record | None:
    """The last step that began and never finished (what a resume must look at), if any."""
    pending = open_intents(records)
    return pending[-1] if pending else None


class Interrupted(NamedTuple):
    """An operation that began and never ended, as the journal tells it."""

    operation: str
    plan: str
    last_intent: int | None
    finished_steps: tuple[int, ...]


def find_interrupted(records: Sequence[dict[str, Any]]) -> Interrupted | None:
    """The last operation with a ``begin`` and no ``end`` record, if any."""
    current: dict[str, Any] | None = None
    finished: list[int] = []
    intent: int | None = None
    for record in records:
        event = record.get("event")
        if event == JournalEvent.BEGIN:
            current, finished, intent = record, [], None
        elif event == JournalEvent.INTENT and current is not None:
            intent = int(record["step"])
        elif event == JournalEvent.OUTCOME and current is not None:
            finished.append(int(record["step"]))
            intent = None
        elif event == JournalEvent.END:
            current = None
    if current is None:
        return None
    return Interrupted(current["operation"], current["plan"], intent, tuple(finished))


def last_completed(records: Sequence[dict[str, Any]]) -> tuple[str, str] | None:
    """The (operation, plan) of the last operation that ended."""
    for record in reversed(records):
        if record.get("event") == JournalEvent.END:
            return str(record["operation"]), str(record["plan"])
    return None
