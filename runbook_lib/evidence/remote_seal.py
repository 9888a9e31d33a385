"""The seal of a pushed incident, checked without the local index: signature and log proof.

A push uploads the incident's ``seal.proof.json`` (:mod:`.sealproof`) beside
its manifest. :func:`check_seal` proves the remote manifest with it: the
signed statement must cover it (with ``trusted``, by that key) and the
inclusion proof must name it and lead to its root. The local index's seal,
when there is one, is still compared; without it, a valid signature by the
trusted key is the anchor.
"""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from runbook_lib.base.fsutil import sha256_bytes
from runbook_lib.evidence import attest, translog
from runbook_lib.evidence.findings import UNSIGNED, VerifyReport
from runbook_lib.evidence.layout import EARLIER_SEAL_FILES, MANIFEST, SEAL_PROOF
from runbook_lib.evidence.sealproof import SealProof, parse_proof_file


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
    """Report what the remote seal proof and local anchor say of manifest bytes ``data``."""
    raw = _read(fs, f"{base}/{SEAL_PROOF}")
    sealed = parse_proof_file(raw) if raw is not None else None
    signed = False
    if sealed is not None and sealed.envelope is not None:
        problems, notes = attest.check_envelope(sealed.envelope, data, trusted, SEAL_PROOF)
        report.problems += problems
        report.notes += notes
        signed = trusted is not None and not problems
    elif sealed is not None or raw is None:  # else it is no seal proof: named below
        where = f"no {SEAL_PROOF} pushed" if raw is None else f"no signature in {SEAL_PROOF}"
        if trusted is not None:
            report.problems.append(f"{UNSIGNED} {MANIFEST} ({where}, a key was given)")
        else:
            report.notes.append(f"{UNSIGNED} who sealed it ({where})")
    _check_proof(fs, base, raw, sealed, data=data, report=report)
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
    fs: Any,
    base: str,
    raw: bytes | None,
    sealed: SealProof | None,
    *,
    data: bytes,
    report: VerifyReport,
) -> None:
    push_again = f"run 'runbook archive push {report.incident} --to URL' to upload it again"
    if raw is None:
        earlier = [name for name in EARLIER_SEAL_FILES if fs.exists(f"{base}/{name}")]
        if earlier:
            report.problems.append(
                f"layout: the earlier seal layout pushed ({', '.join(earlier)} instead of "
                f"{SEAL_PROOF}, which this version reads neither from); re-seal the incident "
                f"and {push_again}"
            )
            return
        report.problems.append(
            f"missing: {SEAL_PROOF} (the seal's signature and proof in the log, not in the "
            f"pushed copy); {push_again}"
        )
    elif sealed is None:
        report.problems.append(f"modified: {SEAL_PROOF} (it is no longer a seal proof)")
    else:
        report.problems += translog.proof_problems(sealed.proof, data, sealed.envelope)
