"""An incident as one offline bundle: a BagIt bag with its seal, signature and log proof.

``runbook archive bundle ID --out F.tar.gz`` writes a tar of one BagIt bag::

    bagit.txt  bag-info.txt  manifest-sha256.txt  tagmanifest-sha256.txt
    data/...            the incident's files, manifest.json and seal.proof.json
                        (its signature and the inclusion proof kept since the seal)
    inclusion.json      the last seal's inclusion proof in the log as it is now, and
                        the consistency proof from the kept proof's tree to it
    checkpoint.json     a checkpoint of the log (signed when a key is set)

:func:`verify_bundle` checks it with nothing but the bundle and a public key:
the bag's hashes, the seal's files, the signature, and the inclusion proof
against the checkpoint (the kept one through the consistency proof), naming the
file that differs.
"""

from __future__ import annotations

import base64
import io
import json
import tarfile
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from runbook_lib.base.errors import InvalidInputError
from runbook_lib.base.fsutil import atomic_write_bytes, iter_files, sha256_bytes
from runbook_lib.evidence import attest, merkle, translog
from runbook_lib.evidence.findings import UNSIGNED
from runbook_lib.evidence.layout import EARLIER_SEAL_FILES, IGNORED_SUFFIXES, MANIFEST, SEAL_PROOF
from runbook_lib.evidence.sealproof import SealProof, parse_proof_file

PAYLOAD = "data/"
TAG_FILES = (
    "bagit.txt",
    "bag-info.txt",
    "manifest-sha256.txt",
    "inclusion.json",
    "checkpoint.json",
)


def _manifest_lines(files: dict[str, bytes]) -> bytes:
    lines = [f"{sha256_bytes(data)}  {name}\n" for name, data in sorted(files.items())]
    return "".join(lines).encode()


def build_bundle(
    archive: Path, incident_dir: Path, out: Path, key: Ed25519PrivateKey | None
) -> int:
    """Write the bundle of a sealed incident; returns how many payload files it holds.

    Raises:
        InvalidInputError: the incident was never sealed, is not in the log, or
            is sealed in the earlier layout (no ``seal.proof.json``).
    """
    proof = translog.inclusion(archive, incident_dir.name)
    if not (incident_dir / MANIFEST).is_file() or proof is None:
        raise InvalidInputError(
            f"{incident_dir.name} has no logged seal to bundle",
            hint=f"seal it first: runbook archive seal {incident_dir.name}",
        )
    if not (incident_dir / SEAL_PROOF).is_file():
        raise InvalidInputError(
            f"{incident_dir.name} has no {SEAL_PROOF} (its seal's signature and proof) to bundle",
            hint=f"re-seal it first: runbook archive seal {incident_dir.name}",
        )
    payload = {
        PAYLOAD + p.relative_to(incident_dir).as_posix(): p.read_bytes()
        for p in iter_files(incident_dir)
        if not p.name.endswith(IGNORED_SUFFIXES)
    }
    tags = {
        "bagit.txt": b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n",
        "bag-info.txt": f"External-Identifier: {incident_dir.name}\n"
        f"Payload-Oxum: {sum(map(len, payload.values()))}.{len(payload)}\n".encode(),
        "manifest-sha256.txt": _manifest_lines(payload),
        "inclusion.json": _with_consistency(archive, incident_dir, proof),
        "checkpoint.json": translog.checkpoint(archive, key),
    }
    tags["tagmanifest-sha256.txt"] = _manifest_lines(tags)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in sorted({**payload, **tags}.items()):
            info = tarfile.TarInfo(f"{incident_dir.name}/{name}")
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            tar.addfile(info, io.BytesIO(data))
    atomic_write_bytes(out, buffer.getvalue())
    return len(payload)


def _with_consistency(archive: Path, incident_dir: Path, proof: translog.InclusionProof) -> bytes:
    """The current proof, plus how the tree of the incident's kept proof extends to it."""
    kept_file = incident_dir / SEAL_PROOF
    kept = parse_proof_file(kept_file.read_bytes()) if kept_file.is_file() else None
    size = kept.proof["size"] if kept is not None else 0
    hashes = translog.leaves(translog.read_log(archive))[: proof["size"]]
    consistency = [h.hex() for h in merkle.consistency_proof(size, hashes)]
    data = {**proof, "consistency": {"from_size": size, "proof": consistency}}
    return (json.dumps(data, indent=2, sort_keys=True) + "\n").encode()


def _read_members(path: Path) -> dict[str, bytes]:
    """The bundle's files by their name inside the bag (no file is written)."""
    try:
        with tarfile.open(path, mode="r:gz") as tar:
            members = {
                m.name.split("/", 1)[-1]: tar.extractfile(m) for m in tar.getmembers() if m.isfile()
            }
            return {name: handle.read() for name, handle in members.items() if handle}
    except (OSError, tarfile.TarError) as err:
        raise InvalidInputError(f"{path} is not a bundle (.tar.gz): {err}") from None


def _check_bag(files: dict[str, bytes], listing: str, problems: list[str]) -> None:
    listed = {}
    for line in files.get(listing, b"").decode(errors="replace").splitlines():
        digest, _, name = line.partition("  ")
        listed[name] = digest
        if name not in files:
            problems.append(f"missing: {name} (listed in {listing})")
        elif sha256_bytes(files[name]) != digest:
            problems.append(f"modified: {name} (its hash differs from {listing})")
    if listing == "manifest-sha256.txt":
        problems += [
            f"unrecorded file: {name}"
            for name in sorted(files)
            if name.startswith(PAYLOAD) and name not in listed
        ]


def verify_bundle(path: Path, trusted: Ed25519PublicKey | None) -> list[str]:
    """Every problem of a bundle, checked with nothing but itself and ``trusted``."""
    files = _read_members(path)
    problems: list[str] = []
    _check_bag(files, "tagmanifest-sha256.txt", problems)
    _check_bag(files, "manifest-sha256.txt", problems)
    manifest_bytes = files.get(PAYLOAD + MANIFEST, b"")
    try:
        sealed = json.loads(manifest_bytes)["files"]
    except (ValueError, KeyError, TypeError):
        return [*problems, f"modified: {PAYLOAD}{MANIFEST} (it is no longer a manifest)"]
    for name, entry in sorted(sealed.items()):
        data = files.get(PAYLOAD + name)
        if data is None:
            problems.append(f"missing: {PAYLOAD}{name} (sealed)")
        elif sha256_bytes(data) != entry.get("sha256"):
            problems.append(f"modified: {PAYLOAD}{name} (differs from the seal)")
    name = PAYLOAD + SEAL_PROOF
    earlier = [PAYLOAD + old for old in EARLIER_SEAL_FILES if PAYLOAD + old in files]
    if earlier and name not in files:
        return [
            *problems,
            f"layout: the earlier seal layout ({', '.join(earlier)} instead of {name}, which "
            "this version reads neither from); re-seal the incident and make the bundle again",
        ]
    kept = parse_proof_file(files[name]) if name in files else None
    if kept is not None and kept.envelope is not None:
        problems += attest.check_envelope(kept.envelope, manifest_bytes, trusted, name)[0]
    elif kept is not None or name not in files:  # else it is no seal proof: named below
        where = f"no signature in {name}" if kept is not None else f"no {name} in the bundle"
        problems.append(f"{UNSIGNED} {PAYLOAD}{MANIFEST} ({where})")
    problems += _check_log(files, manifest_bytes, trusted, kept)
    return list(dict.fromkeys(problems))


def _check_log(
    files: dict[str, bytes],
    manifest_bytes: bytes,
    trusted: Ed25519PublicKey | None,
    kept: SealProof | None,
) -> list[str]:
    try:
        proof: dict[str, Any] = json.loads(files["inclusion.json"])
        envelope = json.loads(files["checkpoint.json"])
        checkpoint = json.loads(base64.b64decode(envelope["payload"]))
    except (KeyError, ValueError, TypeError):
        return ["log: inclusion.json or checkpoint.json is missing or unreadable"]
    problems = []
    if trusted is not None and not attest.signed_by(envelope, trusted):
        problems.append(f"checkpoint: not signed by {attest.fingerprint(trusted)}")
    entry = proof.get("entry", {})
    if entry.get("manifest_sha256") != sha256_bytes(manifest_bytes):
        problems.append(f"log: the logged seal is not this {MANIFEST}")
    leaf = merkle.leaf_hash(json.dumps(entry, sort_keys=True, separators=(",", ":")).encode())
    hashes = [bytes.fromhex(h) for h in proof.get("proof", [])]
    if (
        checkpoint.get("size") != proof.get("size")
        or checkpoint.get("root") != proof.get("root")
        or not merkle.verify_inclusion(
            int(proof.get("index", -1)),
            int(proof["size"]),
            leaf,
            hashes,
            bytes.fromhex(proof["root"]),
        )
    ):
        problems.append("log: the inclusion proof does not lead to the checkpoint's root")
    return problems + _check_kept(files, manifest_bytes, proof, kept)


def _check_kept(
    files: dict[str, bytes],
    manifest_bytes: bytes,
    current: dict[str, Any],
    sealed: SealProof | None,
) -> list[str]:
    """The incident's own proof: its seal, its path, and its tree inside the checkpoint's."""
    name = PAYLOAD + SEAL_PROOF
    if name not in files:
        return [
            f"missing: {name} (the seal's signature and inclusion proof); make the bundle "
            "again with 'runbook archive bundle ID --out FILE'"
        ]
    if sealed is None:
        return [f"modified: {name} (it is no longer a seal proof)"]
    kept = sealed.proof
    try:
        problems = translog.proof_problems(kept, manifest_bytes, sealed.envelope, name)
        step = current["consistency"]
        consistent = step["from_size"] == kept["size"] and merkle.verify_consistency(
            kept["size"],
            int(current["size"]),
            bytes.fromhex(kept["root"]),
            bytes.fromhex(current["root"]),
            [bytes.fromhex(h) for h in step["proof"]],
        )
    except (KeyError, ValueError, TypeError, AttributeError):
        return [f"modified: {name} (it is no longer a seal proof)"]
    if kept["entry"] != current.get("entry") or not consistent:
        problems.append(f"log: {name} is not in the checkpoint's log (another seal or history)")
    return problems
