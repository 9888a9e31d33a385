"""The seal of a pushed incident, checked without the local index: signature and log proof.

A push uploads the incident's ``seal.dsse.json`` and ``seal.inclusion.json``
beside its manifest. :func:`check_seal` proves the remote manifest with them:
the signed statement must cover it (with ``trusted``, by that key) and the
inclusion proof must name it and lead to its root. The local index's seal,
when there is one, is still compared; without it, a valid signature by the
trusted key is the anchor.
"""

from __future__ import annotations

import json
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from runbook_lib.base.fsutil import sha256_bytes
from runbook_lib.evidence import attest, translog
from runbook_lib.evidence.findings import UNSIGNED, VerifyReport
from runbook_lib.evidence.layout import ENVELOPE, INCLUSION, MANIFEST


def _read(fs: Any, path: str) -> bytes | None:
    return bytes(fs.cat_file(path)) if fs.exists(path) else None


def check_seal(
    fs: Any,
    base: str,
    data: bytes,
    *,
    anchor: str | None,
    trusted: Ed25519PublicKey | None,
    report: VerifyReport,
) -> None:
    """Report what the remote envelope, proof and local anchor say of manifest bytes ``data``."""
    envelope = _read(fs, f"{base}/{ENVELOPE}")
    signed = False
    if envelope is None:
        if trusted is not None:
            report.problems.append(f"{UNSIGNED} {MANIFEST} (no {ENVELOPE} pushed, a key was given)")
        else:
            report.notes.append(f"{UNSIGNED} who sealed it (no {ENVELOPE} pushed)")
    else:
        problems, notes = attest.check_envelope(envelope, data, trusted, ENVELOPE)
        report.problems += problems
        report.notes += notes
        signed = trusted is not None and not problems
    _check_proof(_read(fs, f"{base}/{INCLUSION}"), data, envelope, report)
    if anchor is not None and anchor != sha256_bytes(data):
        report.problems.append(
            f"modified: {MANIFEST} (its hash differs from the seal in the local index: "
            "changed remotely, or resealed locally since the push)"
        )
    elif anchor is None and not signed:
        report.notes.append(
            "anchor unavailable: no seal of this incident in the local index and no "
            "signature checked with --pubkey, so the remote manifest is checked against itself"
        )


def _check_proof(
    proof: bytes | None, data: bytes, envelope: bytes | None, report: VerifyReport
) -> None:
    if proof is None:
        report.problems.append(
            f"missing: {INCLUSION} (the seal's proof in the log, not in the pushed copy); "
            f"run 'runbook archive push {report.incident} --to URL' to upload it again"
        )
        return
    try:
        parsed: translog.InclusionProof = json.loads(proof)
        report.problems += translog.proof_problems(parsed, data, envelope)
    except (ValueError, KeyError, TypeError, AttributeError):
        report.problems.append(f"modified: {INCLUSION} (it is no longer an inclusion proof)")
