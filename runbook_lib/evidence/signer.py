"""A seal's signature: the configured key and the signed statement, crypto only when signing.

Without a configured key (:mod:`.keyconfig`), as in every ``runbook rollback
now`` with none set, nothing here imports the ``cryptography`` package (tens
of milliseconds); :mod:`.attest` does the signing.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runbook_lib.evidence import keyconfig

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )

    from runbook_lib.evidence.attest import Envelope


@cache
def tool_version() -> str:
    """The installed runbook's version (read once: the metadata lookup costs milliseconds)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("rl-runbook")
    except PackageNotFoundError:
        return "unknown"


def signing_key(archive: Path | None = None) -> Ed25519PrivateKey | None:
    """The configured signing key, checked (:func:`attest.configured_key`), or ``None``.

    Signing imports the cryptography package (tens of milliseconds): without a
    configured key, as in every ``runbook rollback now`` with none set, this
    imports none of it.
    """
    found = keyconfig.key_path()
    if found is None:
        return None
    from runbook_lib.evidence import attest

    return attest.checked_key(*found, archive)  # the key's place, looked up once


@lru_cache(maxsize=1)
def _public_half(key: Ed25519PrivateKey) -> tuple[Ed25519PublicKey, str]:
    """The signing key's public key and fingerprint, derived once per key object.

    Deriving the public key is a scalar multiplication (~0.1 ms in a seal, a
    fifth of what signing costs it); the configured key is loaded once and kept
    (:func:`attest.checked_key`), so each seal after the first finds it here.
    """
    from runbook_lib.evidence import attest

    public = key.public_key()
    return public, attest.fingerprint(public)


def envelope(
    data: bytes,
    manifest: Mapping[str, Any],
    previous: str | None,
    key: Ed25519PrivateKey | None,
) -> Envelope | None:
    """The seal's signed statement (a DSSE envelope), or ``None`` when no key is set."""
    if key is None:
        return None
    from runbook_lib.evidence import attest

    public, key_id = _public_half(key)
    body = attest.statement(data, manifest, previous, public, tool_version(), key_id=key_id)
    return attest.sign(body, key, keyid=key_id)
