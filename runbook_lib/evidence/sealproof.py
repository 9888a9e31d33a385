"""A seal's one companion file, ``seal.proof.json``: its signature and its proof in the log.

Shaped like a Sigstore bundle (a DSSE envelope beside the verification
material that holds the log entry's inclusion proof, in one JSON document), but
our own format, named by its media type::

    {"mediaType": "application/vnd.rl-runbook.seal-proof.v1+json",
     "dsseEnvelope": {...},      the signed in-toto statement, only when a key is set
     "verificationMaterial": {"tlogEntries": [{
         "logIndex": 7, "entry": {...},
         "inclusionProof": {"logIndex": 7, "treeSize": 8, "rootHash": "...", "hashes": [...]}}]}}

The log entry records the envelope's sha256 (:func:`.translog.envelope_sha256`),
so the proof also proves which signature the seal had. A signed seal writes as
many files as an unsigned one (the manifest and this one): the envelope is only
held until the log has appended the seal. Verifying an incident reads it once
(:func:`check_incident`); the earlier layout's ``seal.dsse.json`` and
``seal.inclusion.json`` are named, not read (:func:`earlier_layout`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from runbook_lib.evidence import signer, translog
from runbook_lib.evidence.findings import UNSIGNED, VerifyReport
from runbook_lib.evidence.layout import EARLIER_SEAL_FILES, MANIFEST, SEAL_PROOF

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

MEDIA_TYPE = "application/vnd.rl-runbook.seal-proof.v1+json"
# An incident still in the earlier layout whose seal the log holds last: a reseal moves it on.
EARLIER_LOGGED = "layout: the earlier seal layout, its seal still the last logged"


class SealProof(NamedTuple):
    """What a ``seal.proof.json`` holds: the envelope as read (``None``: unsigned), the proof."""

    envelope: Any
    proof: translog.InclusionProof


def proof_file_bytes(envelope: bytes | None, proof: translog.InclusionProof) -> bytes:
    """The file form of a seal's envelope and inclusion proof.

    ``envelope`` is the envelope as :func:`.translog.envelope_json` gives it (the
    bytes the log entry hashed), ``None`` when unsigned: it is kept on one line
    as it is, not encoded again (its base64 payload is most of a seal's bytes).
    """
    logged = {
        "logIndex": proof["index"],
        "entry": proof["entry"],
        "inclusionProof": {
            "logIndex": proof["index"],
            "treeSize": proof["size"],
            "rootHash": proof["root"],
            "hashes": proof["proof"],
        },
    }
    material = json.dumps({"tlogEntries": [logged]}, indent=2, sort_keys=True)
    head = b'{\n  "dsseEnvelope": ' + envelope + b",\n" if envelope is not None else b"{\n"
    rest = f'  "mediaType": "{MEDIA_TYPE}",\n  "verificationMaterial": '
    return head + (rest + material.replace("\n", "\n  ") + "\n}\n").encode()


def parse_proof_file(data: bytes) -> SealProof | None:
    """The envelope and proof of a ``seal.proof.json``, or ``None`` when it is none."""
    try:
        document = json.loads(data)
        if document["mediaType"] != MEDIA_TYPE:
            return None
        [logged] = document["verificationMaterial"]["tlogEntries"]
        inclusion = logged["inclusionProof"]
        proof = translog.InclusionProof(
            index=int(inclusion["logIndex"]),
            size=int(inclusion["treeSize"]),
            root=str(inclusion["rootHash"]),
            entry=logged["entry"],
            proof=[str(h) for h in inclusion["hashes"]],
        )
        for value in [proof["root"], *proof["proof"]]:
            bytes.fromhex(value)
        if not isinstance(proof["entry"], dict) or int(logged["logIndex"]) != proof["index"]:
            return None
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    return SealProof(document.get("dsseEnvelope"), proof)


def earlier_layout(
    incident_dir: Path, manifest: bytes, log: translog.LogView, found: list[str]
) -> str:
    """The one finding of an incident sealed in the earlier layout (``found``: its files there)."""
    names = ", ".join(found)
    if (incident_dir / SEAL_PROOF).exists():
        return f"layout: {names} left from the earlier seal layout beside {SEAL_PROOF}"
    unlogged = translog.last_logged(incident_dir.name, manifest, log)
    layout = f"{names} instead of {SEAL_PROOF}, which this version reads neither from"
    if unlogged is not None:
        return f"layout: the earlier seal layout ({layout}), and {unlogged}"
    return (
        f"{EARLIER_LOGGED} ({layout}); run 'runbook archive seal {incident_dir.name}' "
        f"to re-seal it into {SEAL_PROOF}"
    )


def _check_signature(
    sealed: SealProof | None,
    present: bool,
    manifest: bytes,
    report: VerifyReport,
    trusted: Ed25519PublicKey | None,
) -> None:
    if trusted is None:
        key = signer.signing_key()
        trusted = key.public_key() if key is not None else None
    if present and sealed is None:
        return  # not a seal proof at all: the log check names the file
    if sealed is None or sealed.envelope is None:
        where = f"no signature in {SEAL_PROOF}" if present else f"no {SEAL_PROOF}"
        if trusted is not None:
            report.problems.append(f"{UNSIGNED} {MANIFEST} ({where}, a key was given)")
        else:
            report.notes.append(f"{UNSIGNED} who sealed it ({where}; no signing key set)")
        return
    from runbook_lib.evidence import attest

    problems, notes = attest.check_envelope(sealed.envelope, manifest, trusted, SEAL_PROOF)
    report.problems += problems
    report.notes += notes


def check_incident(
    incident_dir: Path,
    manifest: bytes,
    report: VerifyReport,
    trusted: Ed25519PublicKey | None,
    log: translog.LogView,
) -> None:
    """Report what the incident's ``seal.proof.json`` says of its ``manifest`` bytes.

    Its signature (by ``trusted`` when given, else by the configured key's
    public half when one is set) and its inclusion proof in ``log``, as the
    incident's last seal. An incident in the earlier layout gets one finding
    naming its files (:func:`earlier_layout`).
    """
    found = [name for name in EARLIER_SEAL_FILES if (incident_dir / name).exists()]
    try:
        data: bytes | None = (incident_dir / SEAL_PROOF).read_bytes()
    except FileNotFoundError:
        data = None
    except OSError:
        data = b""  # there, but unreadable: no seal proof
    if found:
        report.problems.append(earlier_layout(incident_dir, manifest, log, found))
        if data is None:
            return
    sealed = parse_proof_file(data) if data is not None else None
    _check_signature(sealed, data is not None, manifest, report, trusted)
    report.problems += translog.check_incident(
        incident_dir,
        manifest,
        log,
        sealed.proof if sealed is not None else None,
        sealed.envelope if sealed is not None else None,
    )
