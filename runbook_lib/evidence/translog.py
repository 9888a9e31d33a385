"""The archive's transparency log: every seal of every incident, append-only, RFC 6962 hashed.

``<archive>/transparency/log.jsonl`` holds one entry per seal (incident,
manifest sha256, envelope sha256, time). Its Merkle root over all entries is
what a checkpoint (:func:`checkpoint`) states and signs; a reviewer keeps the
checkpoint elsewhere, and :func:`verify_checkpoint` later proves the log
still extends it and that every incident is at its last logged seal, so a
deleted incident, a truncated history or an incident rolled back to an
earlier seal is named.

An append hashes O(log n): it takes the new leaf's root and audit path from
the tree's right edge that the last append kept beside the log
(:mod:`.logedge`). Everything that verifies reads and hashes the whole log.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict

from runbook_lib.base.durable import fsync_dir
from runbook_lib.base.fsutil import sha256_bytes
from runbook_lib.base.oslock import FileLock
from runbook_lib.evidence import logedge, merkle
from runbook_lib.evidence.layout import INCIDENTS_DIR, MANIFEST, SEAL_PROOF

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )

LOG_DIR = "transparency"
LOG_FILE = "log.jsonl"
CHECKPOINT_TYPE = "application/vnd.rl-runbook.checkpoint+json"
ORIGIN = "rl-runbook transparency log"
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


def log_path(archive: Path) -> Path:
    """Where the archive's log lives."""
    return archive / LOG_DIR / LOG_FILE


def _entry_bytes(entry: Mapping[str, Any]) -> bytes:
    return json.dumps(dict(entry), sort_keys=True, separators=(",", ":")).encode()


def read_log(archive: Path) -> list[dict[str, Any]]:
    """The log's entries, in order (complete lines only)."""
    path = log_path(archive)
    if not path.is_file():
        return []
    data = path.read_bytes()
    lines = data[: data.rfind(b"\n") + 1].splitlines()
    return [json.loads(line) for line in lines if line]


class InclusionProof(TypedDict):
    """Where one seal sits in the log: its entry, leaf index, the tree it proves against."""

    index: int
    size: int
    root: str
    entry: dict[str, Any]
    proof: list[str]


def _proof(entries: list[dict[str, Any]], index: int) -> InclusionProof:
    hashes = leaves(entries)
    return {
        "index": index,
        "size": len(hashes),
        "root": merkle.root(hashes).hex(),
        "entry": entries[index],
        "proof": [h.hex() for h in merkle.inclusion_proof(index, hashes)],
    }


def envelope_json(envelope: object) -> bytes:
    """A seal's DSSE envelope as canonical JSON (sorted keys, no spaces): what the log hashes."""
    return json.dumps(envelope, sort_keys=True, separators=(",", ":")).encode()


def envelope_sha256(envelope: object) -> str | None:
    """What a log entry records of a seal's signature: its envelope's sha256, or ``None``.

    The envelope is hashed as :func:`envelope_json`, so that the digest is the
    same however the file that holds it (:mod:`.sealproof`) is laid out.
    """
    return None if envelope is None else sha256_bytes(envelope_json(envelope))


def append(
    archive: Path, incident: str, manifest_sha256: str, envelope_sha256: str | None, sealed_at: str
) -> InclusionProof:
    """Append one seal; returns its inclusion proof in the tree it ends.

    Only the new line is written, and flushed to disk. Bytes after the last
    complete line (a line torn by a crash in the middle of an append, never
    read as an entry) are cut off first. The new leaf's root and audit path
    come from the tree's right edge as the last append kept it
    (:mod:`.logedge`): O(log n) hashes, whatever the log's length. When the
    log is not exactly the file that edge describes, the whole log is read
    and hashed instead. The log's directory is flushed when the log is new.
    """
    path = log_path(archive)
    path.parent.mkdir(parents=True, exist_ok=True)
    entry = {
        "incident": incident,
        "manifest_sha256": manifest_sha256,
        "envelope_sha256": envelope_sha256,
        "sealed_at": sealed_at,
    }
    line = _entry_bytes(entry)
    with FileLock(str(path.with_suffix(".lock")), timeout=120):
        created = not path.exists()
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND | _CLOEXEC, 0o644)
        try:
            status = os.fstat(fd)
            edge = logedge.load(path, status) or _edge_of(_read_all(fd, status.st_size))
            if status.st_size != edge.keep:
                os.ftruncate(fd, edge.keep)
            _write_all(fd, line + b"\n")
            os.fsync(fd)
            grown = merkle.extend_edge(edge.hashes, edge.size, merkle.leaf_hash(line))
            logedge.save(path, edge.size + 1, grown, os.fstat(fd))
        finally:
            os.close(fd)
        if created:
            fsync_dir(path.parent)
    return {
        "index": edge.size,
        "size": edge.size + 1,
        "root": merkle.edge_root(grown).hex(),
        "entry": entry,
        "proof": [h.hex() for h in merkle.last_leaf_proof(edge.hashes)],
    }


def _read_all(fd: int, size: int) -> bytes:
    chunks, offset = [], 0
    while chunk := os.pread(fd, max(size - offset, 1 << 16), offset):
        chunks.append(chunk)
        offset += len(chunk)
    return b"".join(chunks)


def _edge_of(data: bytes) -> logedge.Edge:
    """The tree of the log ``data`` (its complete lines), every leaf hashed."""
    keep = data.rfind(b"\n") + 1
    entries = [json.loads(line) for line in data[:keep].splitlines() if line]
    return logedge.Edge(len(entries), keep, merkle.right_edge(leaves(entries)))


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def leaves(entries: list[dict[str, Any]]) -> list[bytes]:
    """The RFC 6962 leaf hashes of log entries."""
    return [merkle.leaf_hash(_entry_bytes(entry)) for entry in entries]


def inclusion(archive: Path, incident: str) -> InclusionProof | None:
    """The inclusion proof of an incident's last seal in the current tree."""
    entries = read_log(archive)
    index = next(
        (i for i in range(len(entries) - 1, -1, -1) if entries[i]["incident"] == incident), None
    )
    return None if index is None else _proof(entries, index)


class LogView:
    """The log read once, to check many incidents' proofs against it (subtree roots cached)."""

    def __init__(self, archive: Path) -> None:
        """Read the archive's log."""
        self.archive = archive
        self.reload()

    def reload(self) -> None:
        """Read the log again (a seal appended since it was read)."""
        self.entries = read_log(self.archive)
        self.hashes = leaves(self.entries)
        self.last = {entry["incident"]: i for i, entry in enumerate(self.entries)}
        self._roots: dict[tuple[int, int], bytes] = {}

    def root(self, size: int, start: int = 0) -> bytes:
        """The Merkle tree hash of leaves ``start .. start + size`` (size > 0)."""
        if size == 1:
            return self.hashes[start]
        cached = self._roots.get((start, size))
        if cached is None:
            k = 1 << ((size - 1).bit_length() - 1)
            cached = merkle.node_hash(self.root(k, start), self.root(size - k, start + k))
            self._roots[(start, size)] = cached
        return cached


def proof_problems(
    proof: InclusionProof, manifest: bytes, envelope: object, name: str = SEAL_PROOF
) -> list[str]:
    """What a proof contradicts by itself: the seal it names, and its path to its root.

    ``envelope`` is the signature kept with the proof (``None``: none), ``name``
    the file that holds them, as the problems name it.
    """
    entry = proof["entry"]
    problems = []
    if entry.get("manifest_sha256") != sha256_bytes(manifest):
        problems.append(f"log: {name} proves another seal, not this {MANIFEST}")
    logged = entry.get("envelope_sha256")
    if envelope is None and logged is not None:
        problems.append(f"log: {name} holds no signature, and the seal it proves was signed")
    elif envelope is not None and logged is None:
        problems.append(f"log: {name} holds a signature the seal it proves did not have")
    elif logged != envelope_sha256(envelope):
        problems.append(f"log: {name} proves another signature, not the one it holds")
    hashes = [bytes.fromhex(h) for h in proof["proof"]]
    leaf = merkle.leaf_hash(_entry_bytes(entry))
    if not merkle.verify_inclusion(
        proof["index"], proof["size"], leaf, hashes, bytes.fromhex(proof["root"])
    ):
        problems.append(f"log: {name} does not lead to its root (edited)")
    return problems


# An incident's proof is lost but its seal is the last logged one: resealing makes a new proof.
LOST_PROOF = (
    f"missing: {SEAL_PROOF} (the seal's signature and inclusion proof; "
    "its seal is still in the log)"
)


def last_logged(name: str, manifest: bytes, log: LogView) -> str | None:
    """Why ``manifest`` is not the last logged seal of incident ``name``, or ``None`` if it is."""
    digest = sha256_bytes(manifest)
    if name in log.last and log.entries[log.last[name]].get("manifest_sha256") != digest:
        log.reload()  # sealed again after the log was read?
    if name not in log.last:
        return f"no seal of {name} in the transparency log"
    last = log.entries[log.last[name]]
    if last.get("manifest_sha256") != digest:
        when = last.get("sealed_at")
        return f"{MANIFEST} is not the last logged seal of {name} (logged last {when})"
    return None


def _without_proof(incident_dir: Path, manifest: bytes, log: LogView) -> list[str]:
    """What an incident whose inclusion proof is absent or unreadable says of its seal."""
    name = incident_dir.name
    unlogged = last_logged(name, manifest, log)
    if unlogged is not None and unlogged.startswith("no seal"):
        return [f"log: {unlogged}"]
    if (incident_dir / SEAL_PROOF).exists():
        return [f"modified: {SEAL_PROOF} (it is no longer a seal proof)"]
    if unlogged is not None:
        return [f"missing: {SEAL_PROOF}, and {unlogged}"]
    return [f"{LOST_PROOF}; run 'runbook archive seal {name}' to re-seal it"]


def check_incident(
    incident_dir: Path,
    manifest: bytes,
    log: LogView,
    proof: InclusionProof | None,
    envelope: object,
) -> list[str]:
    """Whether the incident's kept ``proof`` shows its seal in ``log``, as the last of its seals.

    ``proof`` and ``envelope`` are what its ``seal.proof.json`` holds (:mod:`.sealproof`),
    ``proof`` ``None`` when the file is missing or is no seal proof.
    """
    name = incident_dir.name
    if proof is None:
        return _without_proof(incident_dir, manifest, log)
    problems = proof_problems(proof, manifest, envelope)
    size, index = proof["size"], proof["index"]
    if size > len(log.hashes):
        log.reload()  # sealed after the log was read, or the log lost seals
    if size > len(log.hashes):
        problems.append(
            f"log: truncated history: {SEAL_PROOF} proves a log of {size} seals, "
            f"the log holds {len(log.hashes)}"
        )
    elif size > 0 and log.root(size) != bytes.fromhex(proof["root"]):
        problems.append(f"log: the first {size} seals differ from {SEAL_PROOF} (rewritten)")
    elif log.last.get(name, index) > index:
        problems.append(
            f"log: {MANIFEST} is rolled back to an earlier seal (logged last "
            f"{log.entries[log.last[name]]['sealed_at']})"
        )
    return problems


def checkpoint(archive: Path, key: Ed25519PrivateKey | None) -> bytes:
    """A checkpoint of the log (size, root), as a DSSE envelope signed with ``key`` if given."""
    import base64  # checkpoints only: a seal's append needs none of it

    hashes = leaves(read_log(archive))
    body = {"origin": ORIGIN, "size": len(hashes), "root": merkle.root(hashes).hex()}
    if key is None:
        envelope: dict[str, Any] = {
            "payload": base64.b64encode(_entry_bytes(body)).decode(),
            "payloadType": CHECKPOINT_TYPE,
            "signatures": [],
        }
    else:
        from runbook_lib.evidence import attest

        envelope = dict(attest.sign(body, key, CHECKPOINT_TYPE))
    return (json.dumps(envelope, indent=2, sort_keys=True) + "\n").encode()


def verify_checkpoint(archive: Path, data: bytes, trusted: Ed25519PublicKey | None) -> list[str]:
    """Everything the archive does that contradicts a checkpoint kept elsewhere."""
    import base64

    try:
        envelope = json.loads(data)
        body = json.loads(base64.b64decode(envelope["payload"]))
        size, old_root = int(body["size"]), bytes.fromhex(body["root"])
    except (ValueError, KeyError, TypeError):
        return ["checkpoint: the file is not a checkpoint"]
    problems: list[str] = []
    from runbook_lib.evidence import attest

    if trusted is not None and not attest.signed_by(envelope, trusted):
        problems.append(f"checkpoint: not signed by {attest.fingerprint(trusted)}")
    entries = read_log(archive)
    hashes = leaves(entries)
    if len(hashes) < size:
        problems.append(
            f"log: truncated history: the checkpoint has {size} seals, the log {len(hashes)}"
        )
    elif not merkle.verify_consistency(
        size, len(hashes), old_root, merkle.root(hashes), merkle.consistency_proof(size, hashes)
    ):
        problems.append(f"log: the first {size} seals differ from the checkpoint (rewritten)")
    return problems + _incident_problems(archive, entries)


def _incident_problems(archive: Path, entries: list[dict[str, Any]]) -> list[str]:
    latest: dict[str, dict[str, Any]] = {}
    for entry in entries:
        latest[entry["incident"]] = entry
    problems = []
    for incident, entry in sorted(latest.items()):
        manifest = archive / INCIDENTS_DIR / incident / MANIFEST
        if not manifest.parent.is_dir():
            problems.append(
                f"log: incident {incident} was deleted (last sealed {entry['sealed_at']})"
            )
        elif (
            not manifest.is_file()
            or sha256_bytes(manifest.read_bytes()) != entry["manifest_sha256"]
        ):
            earlier = {e["manifest_sha256"] for e in entries if e["incident"] == incident}
            found = sha256_bytes(manifest.read_bytes()) if manifest.is_file() else None
            what = "rolled back to an earlier seal" if found in earlier else "not its logged seal"
            problems.append(
                f"log: {incident}/{MANIFEST} is {what} (logged last {entry['sealed_at']})"
            )
    return problems
