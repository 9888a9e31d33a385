"""Where incidents live: ``<archive>/incidents/<ID>/incident.json``.

Each record is written atomically and only under the incident's own file lock;
:func:`update_incident` loads, changes (with a pure change of
:mod:`runbook_lib.incident.model`) and saves it under that lock.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from runbook_lib.base.errors import InvalidInputError, WorkspaceError
from runbook_lib.base.fsutil import atomic_write_text
from runbook_lib.base.oslock import FileLock, Timeout
from runbook_lib.incident.model import (
    KINDS,
    SEVERITIES,
    Incident,
    Transition,
    looks_like_incident_id,
    mark_done,
    new_incident_id,
    transition,
    utc,
    validate_choice,
    validate_incident_id,
    validate_title,
)

INCIDENT_FILE = "incident.json"


_LOCK_TIMEOUT_S = 30.0


def incidents_dir(archive: Path) -> Path:
    """The directory that holds every incident of an archive."""
    return archive / "incidents"


def incident_dir(archive: Path, incident_id: str) -> Path:
    """The directory of one incident (the ID is validated first)."""
    return incidents_dir(archive) / validate_incident_id(incident_id)


def _lock(directory: Path) -> FileLock:
    return FileLock(directory / ".incident.lock", timeout=_LOCK_TIMEOUT_S)


def _write(directory: Path, incident: Incident) -> None:
    text = json.dumps(incident.to_dict(), indent=2, sort_keys=True) + "\n"
    atomic_write_text(directory / INCIDENT_FILE, text)


def _read(directory: Path) -> Incident:
    path = directory / INCIDENT_FILE
    try:
        return Incident.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        raise
    except (OSError, ValueError, KeyError, TypeError, InvalidInputError) as err:
        raise WorkspaceError(f"{path} is not a readable incident record: {err}") from err


def open_incident(
    archive: Path,
    title: str,
    severity: str,
    kind: str,
    now: datetime | None = None,
    *,
    assessed: str | None = None,
) -> Incident:
    """Create ``<archive>/incidents/<ID>/incident.json`` in state ``opened``.

    With ``assessed`` (the note of an assessment made as it opens, as by
    ``rollback now``), the record is written once, already moved to ``assessed``:
    the same history as opening it and then advancing it.

    Raises:
        InvalidInputError: the title, severity or kind is not acceptable; nothing is written.
    """
    title = validate_title(title)
    validate_choice(severity, SEVERITIES, "severity")
    validate_choice(kind, KINDS, "incident kind")
    moment = utc(now)
    try:
        incidents_dir(archive).mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise InvalidInputError(
            f"cannot keep incidents in archive {archive}: {err}",
            hint="pass --archive (or set $RUNBOOK_ARCHIVE) to a writable directory",
        ) from err
    while True:
        directory = incident_dir(archive, new_incident_id(moment))
        try:
            directory.mkdir()  # exclusive, so two incidents of one minute never share an ID
            break
        except FileExistsError:
            continue
    incident = Incident(directory.name, title, severity, kind, (Transition("opened", moment),))
    if assessed is not None:
        incident = transition(incident, "assessed", moment, assessed)
    with _lock(directory):
        _write(directory, incident)
    return incident


def load_incident(archive: Path, incident_id: str) -> Incident:
    """Read one incident.

    Raises:
        InvalidInputError: the ID is malformed or ``archive`` has no such incident.
        WorkspaceError: its record is damaged.
    """
    directory = incident_dir(archive, incident_id)
    try:
        return _read(directory)
    except FileNotFoundError:
        raise InvalidInputError(
            f"no incident {incident_id} in {archive}",
            hint="check --archive (or $RUNBOOK_ARCHIVE); 'runbook incident list' shows them",
        ) from None


def list_incidents(archive: Path) -> list[Incident]:
    """Every incident of the archive, oldest first (other directories are skipped)."""
    root = incidents_dir(archive)
    if not root.is_dir():
        return []
    return [
        _read(directory)
        for directory in sorted(root.iterdir())
        if looks_like_incident_id(directory.name) and (directory / INCIDENT_FILE).is_file()
    ]


def update_incident(
    archive: Path, incident_id: str, change: Callable[[Incident], Incident]
) -> Incident:
    """Load, change and save an incident under its file lock; return the new version.

    Raises:
        InvalidInputError: no such incident, or ``change`` refused the update
            (then nothing is written).
        WorkspaceError: another process held the incident's lock for 30 s.
    """
    directory = incident_dir(archive, incident_id)
    load_incident(archive, incident_id)  # a clear error before any lock file appears
    try:
        with _lock(directory):
            updated = change(_read(directory))
            _write(directory, updated)
    except Timeout as err:
        raise WorkspaceError(
            f"incident {incident_id} is being updated by another process (lock {err.lock_file})",
            hint="retry in a moment",
        ) from err
    return updated


def advance_incident(
    archive: Path, incident_id: str, state: str, now: datetime | None = None, note: str = ""
) -> Incident:
    """Move a stored incident to ``state`` (see :func:`transition`) and save it."""
    return update_incident(archive, incident_id, lambda inc: transition(inc, state, now, note))


def record_done(
    archive: Path, incident_id: str, obligation: str, now: datetime | None = None, note: str = ""
) -> Incident:
    """Mark an obligation of a stored incident as met (see :func:`mark_done`) and save it."""
    return update_incident(archive, incident_id, lambda inc: mark_done(inc, obligation, now, note))
