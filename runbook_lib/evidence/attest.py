"""Signed seals: an in-toto Statement v1 in a DSSE envelope, signed with Ed25519.

The statement's subjects are ``manifest.json`` and every file it lists, each
with its sha256; its predicate names the incident, the run-chain head, the
previous seal's digest and the signer's public-key fingerprint. The envelope
is kept in ``seal.proof.json`` next to the manifest (:mod:`.sealproof`). The
key is an Ed25519 private key in PEM, found through ``RUNBOOK_SIGNING_KEY``
or else the target manifest's ``[evidence] signing_key`` (:func:`key_path`);
without one, seals are unsigned and verify says so. The crypto is the ``cryptography`` package's.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypedDict

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from runbook_lib.base.errors import InvalidInputError
from runbook_lib.base.fsutil import atomic_write_bytes, sha256_bytes
from runbook_lib.evidence import keyconfig
from runbook_lib.evidence.keyconfig import key_path

SIGNING_KEY_ENV = keyconfig.SIGNING_KEY_ENV
PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://rl-runbook.dev/seal/v1"

# The configured key as last loaded, by its file's identity (path, device, inode,
# mtime, size): each seal of a command or notebook checks the file, parses it once.
_LOADED: dict[tuple[str, int, int, int, int], Ed25519PrivateKey] = {}


class Signature(TypedDict):
    """One DSSE signature."""

    keyid: str
    sig: str


class Envelope(TypedDict):
    """A DSSE envelope (``payload`` is the base64 statement)."""

    payload: str
    payloadType: str
    signatures: list[Signature]


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding: what the signature covers."""
    kind = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


def _raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def fingerprint(key: Ed25519PublicKey) -> str:
    """``sha256:<hex>`` of the raw public key: the statement's and envelope's key id."""
    return "sha256:" + sha256_bytes(_raw_public(key))


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """An Ed25519 private key from a PEM file.

    Raises:
        InvalidInputError: the file is missing or holds no Ed25519 private key.
    """
    try:
        data = path.read_bytes()
    except OSError as err:
        raise InvalidInputError(
            f"cannot read the signing key {path}: {err.strerror}",
            hint="make one with 'runbook keys generate --out PATH'",
        ) from None
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        key = None
    if not isinstance(key, Ed25519PrivateKey):
        raise InvalidInputError(
            f"{path} is not an Ed25519 private key",
            hint="make one with 'runbook keys generate --out PATH'",
        )
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    """An Ed25519 public key from a PEM file (a private key's file gives its public key).

    Raises:
        InvalidInputError: the file holds no Ed25519 key.
    """
    try:
        data = path.read_bytes()
    except OSError as err:
        raise InvalidInputError(f"cannot read the public key {path}: {err.strerror}") from None
    if b"PRIVATE KEY" in data:
        return load_private_key(path).public_key()
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError:
        key = None
    if not isinstance(key, Ed25519PublicKey):
        raise InvalidInputError(f"{path} is not an Ed25519 public key (PEM)")
    return key


def configured_key(archive: Path | None = None) -> Ed25519PrivateKey | None:
    """The configured signing key (:func:`key_path`), or ``None`` when none is set.

    The file is checked on every call and parsed again only when it changed.

    Raises:
        InvalidInputError: the key is missing, not an Ed25519 private key in PEM,
            readable by others than its owner, or inside ``archive``.
    """
    found = key_path()
    return None if found is None else checked_key(*found, archive)


def checked_key(path: Path, named_by: str, archive: Path | None = None) -> Ed25519PrivateKey:
    """The private key at ``path`` (``named_by`` says who named it), checked as a signing key.

    The file is checked on every call and parsed again only when it changed
    (:func:`configured_key` says what is checked).

    Raises:
        InvalidInputError: see :func:`configured_key`.
    """
    real = Path(os.path.realpath(path))
    if archive is not None and real.is_relative_to(os.path.realpath(archive)):
        raise InvalidInputError(
            f"the signing key {path} ({named_by}) is inside the archive {archive}; a private "
            "key must never be kept with the evidence it signs",
            hint="move it outside the archive and point to it there",
        )
    try:
        info = path.stat()
    except OSError as err:
        raise InvalidInputError(
            f"cannot read the signing key {path} ({named_by}): {err.strerror}",
            hint="make one with 'runbook keys generate --out PATH'",
        ) from None
    mode = info.st_mode & 0o777
    if mode & 0o077:
        raise InvalidInputError(
            f"the signing key {path} ({named_by}) has mode {mode:04o}: others may read it",
            hint=f"chmod 600 {path}",
        )
    stamp = (str(real), info.st_dev, info.st_ino, info.st_mtime_ns, info.st_size)
    key = _LOADED.get(stamp)
    if key is None:
        key = load_private_key(path)
        _LOADED.clear()  # one key at a time: a replaced key file is read again
        _LOADED[stamp] = key
    return key


def generate_keypair(out: Path, archive: Path | None) -> tuple[Path, Path]:
    """Write ``out`` (private, mode 0600) and ``out.pub``; never inside the archive.

    Raises:
        InvalidInputError: ``out`` is inside the archive or already exists.
    """
    target = out.resolve()
    if archive is not None and target.is_relative_to(archive.resolve()):
        raise InvalidInputError(
            f"{out} is inside the archive {archive}; a private key must "
            "never be kept with the evidence it signs",
            hint="choose a path outside the archive",
        )
    public = target.with_name(target.name + ".pub")
    if target.exists() or public.exists():
        raise InvalidInputError(f"{target} or {public.name} already exists; not overwritten")
    key = Ed25519PrivateKey.generate()
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(target, private_pem, mode=0o600)
    atomic_write_bytes(public, public_pem, mode=0o644)
    return target, public


def statement(
    manifest_bytes: bytes,
    manifest: Mapping[str, Any],
    previous: str | None,
    key: Ed25519PublicKey,
    tool_version: str,
    *,
    key_id: str | None = None,
) -> dict[str, Any]:
    """The in-toto Statement of one seal.

    ``key_id`` is ``key``'s :func:`fingerprint` when the caller has it already:
    computed here otherwise.
    """
    subjects = [{"name": "manifest.json", "digest": {"sha256": sha256_bytes(manifest_bytes)}}]
    subjects += [
        {"name": name, "digest": {"sha256": str(entry.get("sha256"))}}
        for name, entry in sorted(dict(manifest.get("files", {})).items())
    ]
    predicate = {
        "incident": manifest.get("incident"),
        "sealed_at": manifest.get("sealed_at"),
        "state": (manifest.get("incident_record") or {}).get("state"),
        "chain_head": manifest.get("chain_head"),
        "previous_seal": previous,
        "parameters_sha256": sha256_bytes(
            json.dumps(manifest.get("parameters", {}), sort_keys=True, default=str).encode()
        ),
        "tool_version": tool_version,
        "key": key_id or fingerprint(key),
        # What each redaction removed, as a salted digest (runbook_lib.target.redaction_digest).
        "redactions": list(manifest.get("redactions", [])),
    }
    return {
        "_type": STATEMENT_TYPE,
        "subject": subjects,
        "predicateType": PREDICATE_TYPE,
        "predicate": predicate,
    }


def sign(
    body: Mapping[str, Any],
    key: Ed25519PrivateKey,
    payload_type: str = PAYLOAD_TYPE,
    *,
    keyid: str | None = None,
) -> Envelope:
    """A DSSE envelope of ``body`` signed with ``key``.

    ``keyid`` is the key's :func:`fingerprint` when the caller has it already
    (a seal's statement names it): computed again otherwise.
    """
    payload = json.dumps(dict(body), sort_keys=True, separators=(",", ":")).encode()
    signature = key.sign(pae(payload_type, payload))
    return Envelope(
        payload=base64.b64encode(payload).decode(),
        payloadType=payload_type,
        signatures=[
            Signature(
                keyid=keyid or fingerprint(key.public_key()),
                sig=base64.b64encode(signature).decode(),
            )
        ],
    )


def signed_by(envelope: Mapping[str, Any], trusted: Ed25519PublicKey) -> bool:
    """Whether one of the envelope's signatures is ``trusted``'s over its payload."""
    try:
        payload = base64.b64decode(envelope["payload"], validate=True)
        message = pae(str(envelope["payloadType"]), payload)
        signatures = list(envelope["signatures"])
    except (ValueError, KeyError, TypeError):
        return False
    for signature in signatures:
        try:
            trusted.verify(base64.b64decode(signature.get("sig", "")), message)
        except (InvalidSignature, ValueError, TypeError, AttributeError):
            continue
        return True
    return False


def check_envelope(
    envelope: Any, manifest_bytes: bytes, trusted: Ed25519PublicKey | None, name: str
) -> tuple[list[str], list[str]]:
    """Problems and notes of a seal's envelope (as read from file ``name``) against its manifest.

    Without a ``trusted`` key the signature is only checked against the key
    id it names, which anyone can make: that is noted, not proven.
    """
    try:
        payload = base64.b64decode(envelope["payload"], validate=True)
        body = json.loads(payload)
        signatures = list(envelope["signatures"])
        if not isinstance(body, dict) or not all(isinstance(s, dict) for s in signatures):
            raise TypeError("not a DSSE envelope")
    except (ValueError, KeyError, TypeError):
        return [f"signature: {name} holds no DSSE envelope"], []
    digest = sha256_bytes(manifest_bytes)
    subjects = [s for s in body.get("subject", []) if s.get("name") == "manifest.json"]
    subject: dict[str, Any] = subjects[0] if subjects else {}
    problems: list[str] = []
    if subject.get("digest", {}).get("sha256") != digest:
        problems.append(f"signature: {name} does not cover this manifest.json")
    if trusted is None:
        return problems, ["signed, key not checked: give --pubkey to prove it"]
    wanted = fingerprint(trusted)
    good = False
    for signature in signatures:
        try:
            trusted.verify(
                base64.b64decode(signature.get("sig", "")),
                pae(str(envelope.get("payloadType")), payload),
            )
            good = True
        except (InvalidSignature, ValueError, TypeError):
            continue
    if not good:
        keyids = ", ".join(str(s.get("keyid")) for s in signatures) or "none"
        problems.append(f"signature: {name} is not signed by {wanted} (signed by {keyids})")
    return problems, [] if problems else [f"signed by {wanted}"]
