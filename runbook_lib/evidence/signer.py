"""A seal's signature: the configured key and the signed statement, crypto only when signing.

Without a configured key (:mod:`.keyconfig`), as in every ``runbook rollback
now`` with none set, nothing here imports the ``cryptography`` package (tens
of milliseconds); :mod:`.attest` does the signing.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runbook_lib.evidence import keyconfig

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

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

    body = attest.statement(data, manifest, previous, key.public_key(), tool_version())
    return attest.sign(body, key, keyid=body["predicate"]["key"])
