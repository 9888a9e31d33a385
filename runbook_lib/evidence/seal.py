"""The seal of an incident (``manifest.json``) and its verification.

``manifest.json`` lists every file of the incident with its sha256 and size,
plus the environment (:mod:`.environment`). Its own sha256 is anchored in the
archive's SQLite index (``seals``), outside the incident directory.

:func:`verify_incident` recomputes all of it and names every modified, missing
or added file, every broken link of the run chain (:mod:`.chain`), and any
declared secret's value found in a file.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runbook_lib.base.durable import DurableGroup, temporary_of
from runbook_lib.base.errors import WorkspaceError
from runbook_lib.base.fsutil import iter_files, sha256_bytes, sha256_file
from runbook_lib.evidence import index, sealproof, signer, translog
from runbook_lib.evidence.chain import GENESIS, archive_lock, read_chain, verify_chain
from runbook_lib.evidence.environment import environment_facts
from runbook_lib.evidence.findings import (
    VerifyReport,
    _in_progress,
    _journal_paths,
    _run_stems,
    recorded_by_a_writer,
)
from runbook_lib.evidence.layout import (
    CHAIN,
    EARLIER_SEAL_FILES,
    IGNORED_SUFFIXES,
    MANIFEST,
    SEAL_FILES,
    SEAL_PROOF,
)
from runbook_lib.evidence.started import OpenRun, open_runs, run_in_progress

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def now_iso() -> str:
    """The current UTC time, ISO 8601 to the second: what seals and records are stamped with."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def inventory(incident_dir: Path) -> dict[str, dict[str, Any]]:
    """Every evidence file of the incident with its sha256 and size."""
    files: dict[str, dict[str, Any]] = {}
    for path in iter_files(incident_dir):
        relative = path.relative_to(incident_dir).as_posix()
        if relative in SEAL_FILES or path.name.endswith(IGNORED_SUFFIXES):
            continue
        if temporary_of(relative) in SEAL_FILES:
            continue  # a seal being written: its own files, not yet renamed in place
        files[relative] = {"sha256": sha256_file(path), "size": path.stat().st_size}
    return files


def seal(
    archive: Path,
    incident_dir: Path,
    extra: Mapping[str, Any] | None = None,
    *,
    facts: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Write ``manifest.json`` for the incident and anchor its hash in the index and the log.

    The manifest and ``seal.proof.json`` (its signed statement, when a key is
    set, and its inclusion proof: :mod:`.sealproof`) are one
    :class:`DurableGroup`: the manifest is written first and flushed to disk
    in the background while the index and the log record the seal, then the
    proof file joins it and both are renamed in place together, with one flush
    of the incident directory. A signed seal writes no more files than an
    unsigned one; the earlier layout's files, if any, are deleted with the commit.
    """
    key = signer.signing_key(archive)  # a bad key stops the seal before it writes
    with archive_lock(incident_dir), index.session(archive), DurableGroup() as group:
        manifest = {
            "incident": incident_dir.name,
            "sealed_at": now_iso(),
            "files": inventory(incident_dir),
            "chain_head": (read_chain(incident_dir) or [{"hash": GENESIS}])[-1]["hash"],
            "environment": dict(facts) if facts is not None else environment_facts(),
            **(dict(extra) if extra else {}),
        }
        data = (json.dumps(manifest, indent=2, sort_keys=True, default=str) + "\n").encode()
        previous = index.query(
            archive, "SELECT manifest_sha256 FROM seals WHERE incident = ?", (incident_dir.name,)
        )
        envelope = signer.envelope(
            data, manifest, previous[0]["manifest_sha256"] if previous else None, key
        )
        group.add(incident_dir / MANIFEST, data)
        group.flush_in_background()
        for name in EARLIER_SEAL_FILES:
            group.remove(incident_dir / name)  # the earlier layout's: this seal supersedes them
        digest = sha256_bytes(data)
        index.record_seal(
            archive, incident_dir.name, digest, manifest["sealed_at"], len(manifest["files"])
        )
        signed = translog.envelope_json(envelope) if envelope is not None else None
        proof = translog.append(
            archive,
            incident_dir.name,
            digest,
            sha256_bytes(signed) if signed is not None else None,
            manifest["sealed_at"],
        )
        group.add(incident_dir / SEAL_PROOF, sealproof.proof_file_bytes(signed, proof))
    return manifest


def _secret_hits(incident_dir: Path, secrets: Mapping[str, str]) -> list[str]:
    if not secrets:
        return []
    from runbook_lib.target.secrets import find_secret

    hits: list[str] = []
    for path in iter_files(incident_dir):
        data = path.read_bytes()
        for name, value in secrets.items():
            form = find_secret(data, value)
            if form is not None:
                hits.append(
                    f"secret: the value of ${name} appears in "
                    f"{path.relative_to(incident_dir).as_posix()} ({form})"
                )
    return hits


def _sealed_manifest(
    archive: Path,
    incident_dir: Path,
    report: VerifyReport,
    trusted: Ed25519PublicKey | None = None,
    log: translog.LogView | None = None,
) -> dict[str, Any] | None:
    """The manifest to verify against, checked against its anchors: index, signature, log."""
    path = incident_dir / MANIFEST
    if not path.is_file():
        sealed = "it was sealed before" if was_sealed(archive, incident_dir) else "never sealed"
        report.problems.append(f"missing: {MANIFEST} ({sealed})")
        return None
    data = path.read_bytes()
    seals = index.query(
        archive, "SELECT manifest_sha256 FROM seals WHERE incident = ?", (incident_dir.name,)
    )
    if not seals:
        report.problems.append(f"seal: no seal of {incident_dir.name} in the index")
    elif seals[0]["manifest_sha256"] != sha256_bytes(data):
        report.problems.append(f"modified: {MANIFEST} (its hash differs from the sealed one)")
    log = log if log is not None else translog.LogView(archive)
    sealproof.check_incident(incident_dir, data, report, trusted, log)
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


def _compare_files(
    recorded: Mapping[str, Any],
    incident_dir: Path,
    report: VerifyReport,
    chain: list[dict[str, Any]],
    runs: list[OpenRun],
    *,
    strict: bool,
) -> None:
    actual = inventory(incident_dir)
    report.files_checked = len(actual)
    for name in sorted(recorded.keys() - actual.keys()):
        report.problems.append(f"missing: {name}")
    stems, named = _run_stems(chain, runs), _journal_paths(incident_dir)
    for name in sorted(actual.keys() - recorded.keys()):
        recorded_file = recorded_by_a_writer(name, stems, named, strict=strict)
        kind = "added" if recorded_file else "unrecorded file"
        report.problems.append(f"{kind}: {name}")
    for name in sorted(recorded.keys() & actual.keys()):
        if recorded[name].get("sha256") != actual[name]["sha256"]:
            report.problems.append(f"modified: {name}")


def verify_incident(
    archive: Path,
    incident_dir: Path,
    secret_names: Iterable[str] = (),
    trusted: Ed25519PublicKey | None = None,
    *,
    strict: bool = False,
    log: translog.LogView | None = None,
) -> VerifyReport:
    """Recompute every hash of an incident and compare it with its seal (and signature).

    ``strict`` (a writer's check before it writes): see :func:`recorded_by_a_writer`;
    ``log``: the transparency log already read (else it is read here).
    """
    report = VerifyReport(incident=incident_dir.name)
    manifest = _sealed_manifest(archive, incident_dir, report, trusted, log)
    if manifest is None:
        return report
    try:
        chain = read_chain(incident_dir)
    except WorkspaceError as err:
        report.problems.append(f"chain: {err.message} (it was edited)")
        chain = []
    else:
        head = chain[-1]["hash"] if chain else GENESIS
        if manifest.get("chain_head") != head:
            report.problems.append("chain: the last run does not match the sealed chain head")
    runs = open_runs(incident_dir, chain)  # type: ignore[arg-type]
    _compare_files(manifest["files"], incident_dir, report, chain, runs, strict=strict)
    report.problems += [
        f"interrupted {run.describe()}: started {run.record['started_at']} by "
        f"{run.record['started_by']}, never finished ({run.path})"
        for run in runs
    ]
    report.notes += [
        f"interrupted run {r.get('seq')} ({r.get('notebook')}), recorded"
        for r in chain
        if r.get("status") == "interrupted"
    ]
    report.runs_checked = len(chain)
    report.problems += verify_chain(chain)
    report.problems += _run_output_problems(incident_dir, chain)
    report.problems += _index_problems(archive, incident_dir.name, chain)
    report.problems += _earlier_findings(manifest)
    secrets = {name: os.environ[name] for name in secret_names if os.environ.get(name)}
    report.problems += _secret_hits(incident_dir, secrets)
    if secrets:
        from runbook_lib.target.redaction_digest import proof_notes

        report.notes += proof_notes(manifest.get("redactions") or [], secrets)
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
                problems.append(
                    f"modified: {relative} (differs from run {record.get('seq')}'s chain record)"
                )
    return problems


def _index_problems(archive: Path, incident: str, chain: list[dict[str, Any]]) -> list[str]:
    rows = index.query(archive, "SELECT seq, record_hash FROM runs WHERE incident = ?", (incident,))
    indexed = {row["seq"]: row["record_hash"] for row in rows}
    problems = []
    for record in chain:
        seq = record.get("seq")
        if seq not in indexed:
            problems.append(
                f"index: run {seq} ({record.get('notebook')}) is missing from the index"
            )
        elif indexed[seq] != record.get("hash"):
            problems.append(f"index: run {seq} ({record.get('notebook')}) differs from the chain")
    return problems


def _earlier_findings(manifest: Mapping[str, Any]) -> list[str]:
    return [
        f"earlier: {problem} (found {finding.get('found_at')}, kept through a reseal)"
        for finding in manifest.get("findings", [])
        for problem in finding.get("problems", [])
    ]


def read_manifest(incident_dir: Path) -> dict[str, Any] | None:
    """The incident's sealed manifest, or ``None`` before its first seal (or if unreadable)."""
    try:
        data = json.loads((incident_dir / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def verify_archive(
    archive: Path, secret_names: Iterable[str] = (), trusted: Ed25519PublicKey | None = None
) -> list[VerifyReport]:
    """Verify every incident of the archive, and name sealed incidents whose directory is gone."""
    names = list(secret_names)
    root = archive / "incidents"
    directories = sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    log = translog.LogView(archive)  # read once for every incident
    reports = [verify_or_note(archive, d, names, trusted, log) for d in directories]
    present = {directory.name for directory in directories}
    for row in index.query(archive, "SELECT incident FROM seals ORDER BY incident"):
        if row["incident"] not in present:
            reports.append(
                VerifyReport(
                    row["incident"],
                    [
                        f"missing: the whole incident directory {row['incident']} "
                        "(sealed in the index)"
                    ],
                )
            )
    return reports


def was_sealed(archive: Path, incident_dir: Path) -> bool:
    """Whether the incident was ever sealed or ran a notebook (so it must verify)."""
    if (incident_dir / MANIFEST).is_file() or (incident_dir / CHAIN).is_file():
        return True
    return bool(
        index.query(archive, "SELECT 1 FROM seals WHERE incident = ?", (incident_dir.name,))
    )


def verify_or_note(
    archive: Path,
    incident_dir: Path,
    secret_names: Iterable[str] = (),
    trusted: Ed25519PublicKey | None = None,
    log: translog.LogView | None = None,
) -> VerifyReport:
    """:func:`verify_incident`, except that an incident never sealed nor run is only noted."""
    if not was_sealed(archive, incident_dir):
        return VerifyReport(
            incident_dir.name, notes=["not sealed yet: no run and no sealed evidence so far"]
        )
    names = list(secret_names)
    for _attempt in range(3):  # a run that ended meanwhile resealed: verify again
        busy = run_in_progress(incident_dir)
        before = _manifest_bytes(incident_dir)
        report = verify_incident(archive, incident_dir, names, trusted, log=log)
        busy = busy or run_in_progress(incident_dir)
        if busy:
            return _in_progress(incident_dir, report)
        if before == _manifest_bytes(incident_dir):
            return report
    return report


def _manifest_bytes(incident_dir: Path) -> bytes | None:
    """The seal's files as they are now: a seal that ran during a verify changes them."""
    try:
        return b"".join((incident_dir / name).read_bytes() for name in (MANIFEST, SEAL_PROOF))
    except OSError:
        return None
