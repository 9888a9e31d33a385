"""The archive's transparency log: every seal of every incident, append-only, RFC 6962 hashed.

``<archive>/transparency/log.jsonl`` holds one entry per seal (incident,
manifest sha256, envelope sha256, time). Its Merkle root over all entries is
what a checkpoint (:func:`checkpoint`) states and signs; a reviewer keeps the
checkpoint elsewhere, and :func:`verify_checkpoint` later proves the log
still extends it and that every incident is at its last logged seal, so a
deleted incident, a truncated history or an incident rolled back to an
earlier seal is named.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runbook_lib.base.fsutil import atomic_write_bytes, sha256_bytes
from runbook_lib.base.oslock import FileLock
from runbook_lib.evidence import merkle
from runbook_lib.evidence.layout import INCIDENTS_DIR, MANIFEST

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )

LOG_DIR = "transparency"
LOG_FILE = "log.jsonl"
CHECKPOINT_TYPE = "application/vnd.rl-runbook.checkpoint+json"
ORIGIN = "rl-runbook transparency log"


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


def append(
    archive: Path, incident: str, manifest_sha256: str, envelope_sha256: str | None, sealed_at: str
) -> int:
    """Append one seal; returns its leaf index."""
    path = log_path(archive)
    path.parent.mkdir(parents=True, exist_ok=True)
    entry = {
        "incident": incident,
        "manifest_sha256": manifest_sha256,
        "envelope_sha256": envelope_sha256,
        "sealed_at": sealed_at,
    }
    with FileLock(str(path.with_suffix(".lock")), timeout=120):
        existing = path.read_bytes() if path.is_file() else b""
        existing = existing[: existing.rfind(b"\n") + 1]
        atomic_write_bytes(path, existing + _entry_bytes(entry) + b"\n")
        return existing.count(b"\n")


def leaves(entries: list[dict[str, Any]]) -> list[bytes]:
    """The RFC 6962 leaf hashes of log entries."""
    return [merkle.leaf_hash(_entry_bytes(entry)) for entry in entries]


def inclusion(archive: Path, incident: str) -> dict[str, Any] | None:
    """The inclusion proof of an incident's last seal in the current tree."""
    entries = read_log(archive)
    hashes = leaves(entries)
    index = next(
        (i for i in range(len(entries) - 1, -1, -1) if entries[i]["incident"] == incident), None
    )
    if index is None:
        return None
    return {
        "index": index,
        "size": len(hashes),
        "root": merkle.root(hashes).hex(),
        "entry": entries[index],
        "proof": [h.hex() for h in merkle.inclusion_proof(index, hashes)],
    }


def checkpoint(archive: Path, key: Ed25519PrivateKey | None) -> bytes:
    """A checkpoint of the log (size, root), as a DSSE envelope signed with ``key`` if given."""
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
