"""The tamper-evident evidence archive of an incident.

* ``runs/chain.jsonl``: one record per notebook run; each carries the sha256 of
  the previous record, so editing, removing or reordering a run breaks a link.
* ``manifest.json``: every file of the incident with its sha256 and size, plus
  the environment (versions, ``pip freeze``, SB3 system info, user and host).
  Its own sha256 is anchored in the archive's SQLite index (``seals``), outside
  the incident directory.

:func:`verify_incident` recomputes all of it and names every modified, missing
or added file, every broken link, and any declared secret's value found in a file.

Evidence added after a seal (a run, a message, a decision) is sealed again by
:func:`reseal`, which first tells legitimate growth (new files, lines appended
to the journal or the chain, new incident history) from anything else. What
else it finds is kept in the new manifest as a *finding*, so a reseal never
hides an earlier modification: ``verify`` keeps reporting it.
"""

from __future__ import annotations

import contextlib
import getpass
import json
import os
import platform
import re
import socket
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from runbook_lib.evidence import index
from runbook_lib.base.errors import LockHeldError, WorkspaceError
from runbook_lib.base.fsutil import (
    atomic_write_bytes,
    atomic_write_text,
    iter_files,
    sha256_bytes,
    sha256_file,
)
from runbook_lib.incident.journal import Journal
from runbook_lib.target.secrets import find_secret

MANIFEST = "manifest.json"
CHAIN = Path("runs") / "chain.jsonl"
GENESIS = "0" * 64
# Lock files are coordination, not evidence; they change on every run.
_IGNORED_SUFFIXES = (".lock",)
RUN_LOCK = "run.lock"
DECISIONS_DIR = "decisions"
CHECKS_DIR = "checks"
INCIDENT_FILE = "incident.json"
ACTIVE_RUN_ENV = "RUNBOOK_ACTIVE_RUN"
# Files that grow by appended lines only; directories whose files are written
# once (by the runbook itself) and never changed. Other files (a notebook's
# working files, parity.json) may be rewritten between seals.
_APPEND_ONLY = ("journal.jsonl", CHAIN.as_posix())
_WRITE_ONCE = ("runs/", "plans/", "blobs/", "comms/", f"{DECISIONS_DIR}/", f"{CHECKS_DIR}/")
_REWRITABLE = ("plans/latest",)
_SEAL_KEYS = ("incident", "sealed_at", "files", "chain_head", "environment")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_VERSIONED = ("python", "runbook", "papermill", "nbclient", "nbformat", "gymnasium",
              "stable-baselines3", "torch", "numpy")  # fmt: skip


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


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
            raise WorkspaceError(f"{CHAIN.as_posix()} line {number} is not a JSON record",
                                 hint="the chain was edited; 'runbook archive verify' "
                                 "names what else changed")  # fmt: skip
        records.append(record)
    return records


def _lock(incident_dir: Path) -> FileLock:
    return FileLock(str(incident_dir / "archive.lock"), timeout=120)


def append_run(incident_dir: Path, record: Mapping[str, Any]) -> dict[str, Any]:
    """Append a run record linked to the previous one (adds ``seq``, ``prev``, ``hash``)."""
    with _lock(incident_dir):
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


def inventory(incident_dir: Path) -> dict[str, dict[str, Any]]:
    """Every evidence file of the incident with its sha256 and size."""
    files: dict[str, dict[str, Any]] = {}
    for path in iter_files(incident_dir):
        relative = path.relative_to(incident_dir).as_posix()
        if relative == MANIFEST or path.name.endswith(_IGNORED_SUFFIXES):
            continue
        files[relative] = {"sha256": sha256_file(path), "size": path.stat().st_size}
    return files


def _version(name: str) -> str | None:
    if name == "python":
        return platform.python_version()
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def installed_distributions() -> list[str]:
    """``pip freeze`` of this interpreter, read from the ``.dist-info`` directory names.

    Parsing every METADATA file takes a tenth of a second for a few hundred
    packages; the directory names carry the same name and version (PEP 376/491).
    """
    found: set[str] = set()
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue
        for name in names:
            if name.endswith(".dist-info"):
                project, _, version = name[: -len(".dist-info")].partition("-")
                if version:
                    found.add(f"{project}=={version}")
    return sorted(found, key=str.lower)


def environment_facts(*, with_system_info: bool = True) -> dict[str, Any]:
    """Versions, ``pip freeze`` (from installed metadata), user, host and SB3's system info."""
    freeze = installed_distributions()
    facts: dict[str, Any] = {
        "versions": {name: _version(name) for name in _VERSIONED},
        "pip_freeze": freeze,
        "user": getpass.getuser(),
        "host": socket.gethostname(),
        "platform": platform.platform(),
        "executable": sys.executable,
    }
    if with_system_info:
        try:
            from stable_baselines3.common.utils import get_system_info

            facts["sb3_system_info"] = get_system_info(print_info=False)[0]
        except ImportError:
            facts["sb3_system_info"] = None
    return facts


def seal(archive: Path, incident_dir: Path, extra: Mapping[str, Any] | None = None,
         *, facts: Mapping[str, Any] | None = None) -> dict[str, Any]:  # fmt: skip
    """Write ``manifest.json`` for the incident and anchor its hash in the index."""
    with _lock(incident_dir):
        manifest = {
            "incident": incident_dir.name,
            "sealed_at": _now(),
            "files": inventory(incident_dir),
            "chain_head": (read_chain(incident_dir) or [{"hash": GENESIS}])[-1]["hash"],
            "environment": dict(facts) if facts is not None else environment_facts(),
            **(dict(extra) if extra else {}),
        }
        data = (json.dumps(manifest, indent=2, sort_keys=True, default=str) + "\n").encode()
        atomic_write_bytes(incident_dir / MANIFEST, data)
        index.record_seal(archive, incident_dir.name, sha256_bytes(data), manifest["sealed_at"],
                          len(manifest["files"]))  # fmt: skip
    return manifest


@dataclass
class VerifyReport:
    """What :func:`verify_incident` found."""

    incident: str
    problems: list[str] = field(default_factory=list)
    files_checked: int = 0
    runs_checked: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing is wrong."""
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {**asdict(self), "ok": self.ok}


def _secret_hits(incident_dir: Path, secrets: Mapping[str, str]) -> list[str]:
    hits: list[str] = []
    for path in iter_files(incident_dir):
        data = path.read_bytes()
        for name, value in secrets.items():
            form = find_secret(data, value)
            if form is not None:
                hits.append(f"secret: the value of ${name} appears in "
                            f"{path.relative_to(incident_dir).as_posix()} ({form})")  # fmt: skip
    return hits


def _sealed_manifest(
    archive: Path, incident_dir: Path, report: VerifyReport
) -> dict[str, Any] | None:
    """The manifest to verify against, checked against its anchor in the index."""
    path = incident_dir / MANIFEST
    if not path.is_file():
        sealed = "it was sealed before" if was_sealed(archive, incident_dir) else "never sealed"
        report.problems.append(f"missing: {MANIFEST} ({sealed})")
        return None
    data = path.read_bytes()
    seals = index.query(archive, "SELECT manifest_sha256 FROM seals WHERE incident = ?",
                        (incident_dir.name,))  # fmt: skip
    if not seals:
        report.problems.append(f"seal: no seal of {incident_dir.name} in the index")
    elif seals[0]["manifest_sha256"] != sha256_bytes(data):
        report.problems.append(f"modified: {MANIFEST} (its hash differs from the sealed one)")
    return parse_manifest(data, report)


def parse_manifest(data: bytes, report: VerifyReport) -> dict[str, Any] | None:
    """A manifest's content, or ``None`` (with the problem reported) when it is no manifest."""
    try:
        manifest = json.loads(data)
    except ValueError:
        manifest = None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
        report.problems.append(f"modified: {MANIFEST} (it is no longer a manifest)")
        return None
    return manifest


def _compare_files(recorded: Mapping[str, Any], incident_dir: Path, report: VerifyReport) -> None:
    actual = inventory(incident_dir)
    report.files_checked = len(actual)
    for name in sorted(recorded.keys() - actual.keys()):
        report.problems.append(f"missing: {name}")
    for name in sorted(actual.keys() - recorded.keys()):
        report.problems.append(f"added: {name}")
    for name in sorted(recorded.keys() & actual.keys()):
        if recorded[name].get("sha256") != actual[name]["sha256"]:
            report.problems.append(f"modified: {name}")


def verify_incident(archive: Path, incident_dir: Path,
                    secret_names: Iterable[str] = ()) -> VerifyReport:  # fmt: skip
    """Recompute every hash of an incident and compare it with its seal."""
    report = VerifyReport(incident=incident_dir.name)
    manifest = _sealed_manifest(archive, incident_dir, report)
    if manifest is None:
        return report
    _compare_files(manifest["files"], incident_dir, report)
    try:
        chain = read_chain(incident_dir)
    except WorkspaceError as err:
        report.problems.append(f"chain: {err.message} (it was edited)")
        chain = []
    else:
        head = chain[-1]["hash"] if chain else GENESIS
        if manifest.get("chain_head") != head:
            report.problems.append("chain: the last run does not match the sealed chain head")
    report.runs_checked = len(chain)
    report.problems += verify_chain(chain)
    report.problems += _run_output_problems(incident_dir, chain)
    report.problems += _index_problems(archive, incident_dir.name, chain)
    report.problems += _earlier_findings(manifest)
    secrets = {name: os.environ[name] for name in secret_names if os.environ.get(name)}
    report.problems += _secret_hits(incident_dir, secrets)
    return report


def _run_output_problems(incident_dir: Path, chain: list[dict[str, Any]]) -> list[str]:
    """A run's executed notebook and HTML must still hash as its chain record says."""
    problems = []
    for record in chain:
        for key in ("output", "html"):
            relative, recorded = record.get(key), record.get(f"{key}_sha256")
            if not isinstance(relative, str) or not _SHA256.match(str(recorded)):
                continue  # a record without a real hash cannot be checked
            path = incident_dir / relative
            if path.is_file() and sha256_file(path) != recorded:
                problems.append(f"modified: {relative} (differs from run {record.get('seq')}'s "
                                "chain record)")  # fmt: skip
    return problems


def _index_problems(archive: Path, incident: str, chain: list[dict[str, Any]]) -> list[str]:
    rows = index.query(archive, "SELECT seq, record_hash FROM runs WHERE incident = ?",
                       (incident,))  # fmt: skip
    indexed = {row["seq"]: row["record_hash"] for row in rows}
    problems = []
    for record in chain:
        seq = record.get("seq")
        if seq not in indexed:
            problems.append(f"index: run {seq} ({record.get('notebook')}) is missing from the "
                            "index")  # fmt: skip
        elif indexed[seq] != record.get("hash"):
            problems.append(f"index: run {seq} ({record.get('notebook')}) differs from the chain")
    return problems


def _earlier_findings(manifest: Mapping[str, Any]) -> list[str]:
    return [f"earlier: {problem} (found {finding.get('found_at')}, kept through a reseal)"
            for finding in manifest.get("findings", []) for problem in finding.get("problems", [])]


def read_manifest(incident_dir: Path) -> dict[str, Any] | None:
    """The incident's sealed manifest, or ``None`` before its first seal (or if unreadable)."""
    try:
        data = json.loads((incident_dir / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


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
    if kind in {"added", "earlier"} or problem.startswith("chain: the last run does not match"):
        return True  # new evidence, old findings (kept anyway), runs since the seal
    if kind != "modified":
        return False
    if rest in _APPEND_ONLY:
        return _prefix_kept(incident_dir / rest, manifest["files"][rest])
    if rest == INCIDENT_FILE:
        return _incident_grew(incident_dir, manifest.get("incident_record"))
    if rest == MANIFEST or "(" in rest:
        return False  # the manifest itself, or a run output that differs from its record
    return rest in _REWRITABLE or not rest.startswith(_WRITE_ONCE)


def suspicious_changes(archive: Path, incident_dir: Path) -> list[str]:
    """What changed since the last seal in a way that adding evidence never does.

    New files, lines appended to the journal or the chain, history appended to
    ``incident.json``, and rewritten working files are legitimate growth; a
    removed file, a changed record of the runbook's own (runs, plans, blobs,
    messages, decisions, checks), a broken chain or a manifest that no longer
    matches its anchored hash are not.
    """
    manifest = read_manifest(incident_dir)
    if manifest is None:
        return [f"missing: {MANIFEST} (the incident was sealed before)"] if was_sealed(
            archive, incident_dir) else []  # fmt: skip
    report = verify_incident(archive, incident_dir)
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
            f"for {timeout:.0f} s", hint="wait for that run to finish, then try again",
        ) from None  # fmt: skip
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
        findings.append({"found_at": _now(), "problems": suspicious})
    carried = {k: v for k, v in previous.items() if k not in _SEAL_KEYS}
    record = _incident_record(incident_dir)
    merged = {**carried, **(dict(extra) if extra else {}), "findings": findings,
              "incident_record": record}  # fmt: skip
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
    with run_lock(incident_dir, timeout):
        found = suspicious_changes(archive, incident_dir)  # before this change adds its own
        yield found
        reseal(archive, incident_dir, suspicious=found)


def seal_changes(archive: Path, incident_dir: Path) -> list[str]:
    """Reseal after a change made outside :func:`amending` (a CLI command's own write).

    Returns:
        The suspicious changes found (kept as findings); empty inside a run.
    """
    with amending(archive, incident_dir) as found:
        pass
    return found


def next_numbered(directory: Path, stem: str, suffix: str) -> Path:
    """``directory/<NN>-<stem><suffix>``, NN one above the highest so far (call under a lock)."""
    numbers = [int(p.name[:2]) for p in directory.glob("[0-9][0-9]-*") if p.name[:2].isdigit()]
    return directory / f"{max(numbers, default=0) + 1:02d}-{stem}{suffix}"


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40] or "record"


def _write_record(directory: Path, stem: str, data: Mapping[str, Any]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = next_numbered(directory, _slug(stem), ".json")
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")
    return path


def record_decision(archive: Path, incident_dir: Path, decision: Mapping[str, Any],
                    *, source: str) -> Path:  # fmt: skip
    """Keep a decision as ``decisions/<NN>-<outcome>.json``, index it, and reseal.

    Args:
        archive: The archive (its index gets a ``decisions`` row).
        incident_dir: The incident's directory.
        decision: The decision as data (``Decision.to_dict()`` or a parity report's decision).
        source: What produced it (``runbook decide``, a notebook, ``parity``).
    """
    decided_at = _now()
    with amending(archive, incident_dir):
        body = {"decided_at": decided_at, "source": source, "decision": dict(decision)}
        name = str(decision.get("outcome") or decision.get("scenario") or "decision")
        path = _write_record(incident_dir / DECISIONS_DIR, name, body)
        index.add_decision(archive, incident_dir.name, decided_at, decision)
        Journal.for_incident(incident_dir)({
            "event": "decision", "outcome": name, "summary": decision.get("summary"),
            "strategy": decision.get("strategy"), "source": source,
            "path": path.relative_to(incident_dir).as_posix()})  # fmt: skip
    return path


def record_checks(archive: Path, incident_dir: Path, source: str,
                  checks: Iterable[Mapping[str, Any]]) -> Path:  # fmt: skip
    """Keep check results as ``checks/<NN>-<source>.json``, index them, and reseal.

    Args:
        archive: The archive (its index gets one ``checks`` row per check).
        incident_dir: The incident's directory.
        source: What produced them (a run, a command, a notebook cell).
        checks: ``CheckResult.to_dict()`` items (name, status, summary, blocking...).
    """
    recorded_at = _now()
    items = [dict(check) for check in checks]
    with amending(archive, incident_dir):
        body = {"recorded_at": recorded_at, "source": source, "checks": items}
        path = _write_record(incident_dir / CHECKS_DIR, source, body)
        index.add_checks(archive, incident_dir.name, source, recorded_at, items)
        failed = sum(item.get("status") == "fail" for item in items)
        Journal.for_incident(incident_dir)({
            "event": "checks", "source": source, "path": path.relative_to(incident_dir).as_posix(),
            "summary": f"{len(items) - failed} of {len(items)} passed"})  # fmt: skip
    return path


def verify_archive(archive: Path, secret_names: Iterable[str] = ()) -> list[VerifyReport]:
    """Verify every incident of the archive, and name sealed incidents whose directory is gone."""
    names = list(secret_names)
    root = archive / "incidents"
    directories = sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    reports = [verify_or_note(archive, directory, names) for directory in directories]
    present = {directory.name for directory in directories}
    for row in index.query(archive, "SELECT incident FROM seals ORDER BY incident"):
        if row["incident"] not in present:
            reports.append(VerifyReport(row["incident"], [
                f"missing: the whole incident directory {row['incident']} (sealed in the index)"]))
    return reports


def was_sealed(archive: Path, incident_dir: Path) -> bool:
    """Whether the incident was ever sealed or ran a notebook (so it must verify)."""
    if (incident_dir / MANIFEST).is_file() or (incident_dir / CHAIN).is_file():
        return True
    return bool(index.query(archive, "SELECT 1 FROM seals WHERE incident = ?",
                            (incident_dir.name,)))  # fmt: skip


def verify_or_note(archive: Path, incident_dir: Path,
                   secret_names: Iterable[str] = ()) -> VerifyReport:  # fmt: skip
    """:func:`verify_incident`, except that an incident never sealed nor run is only noted."""
    if not was_sealed(archive, incident_dir):
        return VerifyReport(incident_dir.name, notes=["not sealed yet: no run and no sealed "
                                                      "evidence so far"])  # fmt: skip
    return verify_incident(archive, incident_dir, secret_names)
