"""Adding evidence to a sealed incident: one writer at a time, then a reseal.

Evidence added after a seal (a run, a message, a decision) is sealed again by
:func:`reseal`, which first tells legitimate growth (new files, lines appended
to the journal or the chain, new incident history) from anything else. What
else it finds is kept in the new manifest as a *finding*, so a reseal never
hides an earlier modification: ``verify`` keeps reporting it.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from runbook_lib.base.errors import LockHeldError
from runbook_lib.base.fsutil import sha256_bytes
from runbook_lib.base.oslock import FileLock, Timeout
from runbook_lib.evidence import index, sealproof, translog
from runbook_lib.evidence.environment import environment_facts
from runbook_lib.evidence.layout import (
    APPEND_ONLY,
    INCIDENT_FILE,
    INCIDENTS_DIR,
    MANIFEST,
    REWRITABLE,
    RUN_LOCK,
    WRITE_ONCE,
)
from runbook_lib.evidence.seal import (
    now_iso,
    read_manifest,
    seal,
    verify_incident,
    was_sealed,
)
from runbook_lib.evidence.signer import signing_key
from runbook_lib.evidence.started import record_interrupted
from runbook_lib.incident.journal import Journal, JournalEvent

ACTIVE_RUN_ENV = "RUNBOOK_ACTIVE_RUN"

_GROWTH = ("chain: the last run does not match", translog.LOST_PROOF, sealproof.EARLIER_LOGGED)
_SEAL_KEYS = ("incident", "sealed_at", "files", "chain_head", "environment")


def _prefix_kept(path: Path, sealed: Mapping[str, Any]) -> bool:
    size = int(sealed.get("size", -1))
    with path.open("rb") as handle:
        head = handle.read(size) if size >= 0 else b""
    return len(head) == size and sha256_bytes(head) == sealed.get("sha256")


def _incident_grew(incident_dir: Path, sealed_record: Any) -> bool:
    """Only history and completions were appended since the seal (an advance, an obligation)."""
    try:
        now = json.loads((incident_dir / INCIDENT_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if not isinstance(sealed_record, dict) or not isinstance(now, dict):
        return False
    for key, value in sealed_record.items():
        if key in ("history", "completions"):
            if now.get(key, [])[: len(value)] != value:
                return False
        elif key != "state" and now.get(key) != value:
            return False
    return True


def _legitimate(problem: str, incident_dir: Path, manifest: Mapping[str, Any]) -> bool:
    kind, _, rest = problem.partition(": ")
    # New evidence, old findings (kept anyway), runs since the seal, and a lost inclusion
    # proof of a seal the log still holds, or one in the earlier layout (the reseal
    # writes a new proof).
    if kind in {"added", "earlier"} or problem.startswith(_GROWTH):
        return True
    if kind != "modified":
        return False
    if rest in APPEND_ONLY:
        return _prefix_kept(incident_dir / rest, manifest["files"][rest])
    if rest == INCIDENT_FILE:
        return _incident_grew(incident_dir, manifest.get("incident_record"))
    if rest == MANIFEST or "(" in rest:
        return False  # the manifest itself, or a run output that differs from its record
    return rest in REWRITABLE or not rest.startswith(WRITE_ONCE)


def suspicious_changes(archive: Path, incident_dir: Path, *, strict: bool = False) -> list[str]:
    """What changed since the last seal in a way that adding evidence never does.

    New files, lines appended to the journal or the chain, history appended to
    ``incident.json``, and rewritten working files are legitimate growth; a
    removed file, a changed record of the runbook's own (runs, plans, blobs,
    messages, decisions, checks), a broken chain or a manifest that no longer
    matches its anchored hash are not.
    """
    manifest = read_manifest(incident_dir)
    if manifest is None:
        return (
            [f"missing: {MANIFEST} (the incident was sealed before)"]
            if was_sealed(archive, incident_dir)
            else []
        )
    report = verify_incident(archive, incident_dir, strict=strict)
    return [p for p in report.problems if not _legitimate(p, incident_dir, manifest)]


@contextlib.contextmanager
def run_lock(incident_dir: Path, timeout: float) -> Iterator[None]:
    """Hold the incident's run lock: one writer of evidence (a run, a message) at a time.

    Raises:
        LockHeldError: another process held it for ``timeout`` seconds.
    """
    lock = FileLock(str(incident_dir / RUN_LOCK), timeout=timeout)
    try:
        lock.acquire()
    except Timeout:
        raise LockHeldError(
            f"incident {incident_dir.name} is busy: another runbook process held its run lock "
            f"for {timeout:.0f} s",
            hint="wait for that run to finish, then try again",
        ) from None
    try:
        yield
    finally:
        lock.release()


def inside_run(incident_dir: Path) -> bool:
    """True in a kernel (or its children) that ``runbook run`` started for this incident."""
    return os.environ.get(ACTIVE_RUN_ENV) == incident_dir.name


def reseal(
    archive: Path,
    incident_dir: Path,
    extra: Mapping[str, Any] | None = None,
    *,
    facts: Mapping[str, Any] | None = None,
    suspicious: list[str] | None = None,
) -> list[str]:
    """Seal the incident again after adding evidence (call it under :func:`run_lock`).

    Suspicious changes (``suspicious``, found before the evidence was added, or
    :func:`suspicious_changes` now) are carried in the new manifest's
    ``findings`` with those of earlier seals, so ``verify`` keeps naming them.
    Keys of the previous manifest's ``extra`` are kept unless ``extra`` replaces them.

    Returns:
        The suspicious changes.
    """
    previous = read_manifest(incident_dir) or {}
    if suspicious is None:
        suspicious = suspicious_changes(archive, incident_dir)
    findings = list(previous.get("findings", []))
    if suspicious:
        findings.append({"found_at": now_iso(), "problems": suspicious})
    carried = {k: v for k, v in previous.items() if k not in _SEAL_KEYS}
    record = _incident_record(incident_dir)
    merged = {
        **carried,
        **(dict(extra) if extra else {}),
        "findings": findings,
        "incident_record": record,
    }
    if facts is None:
        facts = previous.get("environment") or environment_facts(with_system_info=False)
    seal(archive, incident_dir, merged, facts=facts)
    return suspicious


def _incident_record(incident_dir: Path) -> Any:
    try:
        return json.loads((incident_dir / INCIDENT_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


@contextlib.contextmanager
def amending(archive: Path, incident_dir: Path, *, timeout: float = 600.0) -> Iterator[list[str]]:
    """Add evidence to an incident, then reseal it; yields the list of suspicious changes.

    Outside a run this holds the incident's run lock and reseals on exit. Inside
    a run of the same incident (a notebook adding evidence) it does neither: the
    run holds the lock and seals when the notebook ends.
    """
    if inside_run(incident_dir):
        yield []
        return
    signing_key(archive)  # a bad signing key stops the change before it writes
    with run_lock(incident_dir, timeout):
        close_interrupted(archive, incident_dir)
        # Before this change adds its own files: what is new now, no recorded writer wrote.
        found = suspicious_changes(archive, incident_dir, strict=True)
        yield found
        reseal(archive, incident_dir, suspicious=found)


@contextlib.contextmanager
def sealing(archive: Path, incident_id: str) -> Iterator[None]:
    """:func:`amending` of the incident ``incident_id`` when it exists (a command's write).

    A command that writes into an incident (``verify``, ``parity``) runs its
    write inside this, so what it wrote is sealed with it, and what was there
    before it started, written by no recorded writer, stays a finding.
    """
    from runbook_lib.incident.model import validate_incident_id

    directory = archive / INCIDENTS_DIR / validate_incident_id(incident_id)
    if not directory.is_dir():
        yield  # the command itself names the unknown incident
        return
    with amending(archive, directory):
        yield


def seal_changes(archive: Path, incident_dir: Path) -> list[str]:
    """Reseal after a change made outside :func:`amending` (a CLI command's own write).

    Returns:
        The suspicious changes found (kept as findings); empty inside a run.
    """
    with amending(archive, incident_dir) as found:
        pass
    return found


def close_interrupted(archive: Path, incident_dir: Path) -> None:
    """Record runs that started and never finished as interrupted (under the run lock)."""
    for record in record_interrupted(incident_dir):
        index.add_run(archive, record)


def seal_by_hand(archive: Path, incident_dir: Path, who: str) -> list[str]:
    """Seal an incident written by other means, recording who sealed which unrecorded files.

    Unrecorded files become evidence with this journal record naming them and
    ``who``; any other suspicious change is kept as a finding, as by :func:`reseal`.

    Returns:
        The unrecorded files that were sealed.
    """
    with run_lock(incident_dir, 600.0):
        close_interrupted(archive, incident_dir)
        found = suspicious_changes(archive, incident_dir)
        prefix = "unrecorded file: "
        adopted = [problem[len(prefix) :] for problem in found if problem.startswith(prefix)]
        Journal.for_incident(incident_dir)(
            {"event": JournalEvent.SEALED_BY_HAND, "by": who, "files": adopted}
        )
        reseal(archive, incident_dir, suspicious=[p for p in found if not p.startswith(prefix)])
    return adopted
