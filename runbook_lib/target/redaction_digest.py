"""Salted digests of redacted secrets: what a redaction removed, provable, never readable.

When a run's output is redacted, the evidence keeps, per secret, a random salt
and the scrypt digest of the secret's value with that salt. Whoever holds the
secret can prove that exactly that value was removed (``runbook archive verify
--secret NAME``); nobody else learns anything from it. scrypt rather than a
plain hash because secrets are often short: a guess costs tens of milliseconds
and 16 MiB, not a nanosecond.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Iterable, Mapping
from typing import TypedDict

SCRYPT_N = 2**14  # with r=8: 16 MiB and ~50 ms per digest
SCRYPT_R = 8
SCRYPT_P = 1
SALT_BYTES = 16


class RedactedDigest(TypedDict):
    """One secret a redaction removed: its name, the salt and the scrypt digest (hex)."""

    secret: str
    salt: str
    scrypt: str


def salted_digest(value: str, salt: bytes) -> str:
    """The scrypt digest (hex) of ``value`` with ``salt``."""
    return hashlib.scrypt(
        value.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32
    ).hex()


def digest_secret(name: str, value: str) -> RedactedDigest:
    """A fresh salted digest of the secret ``name``."""
    salt = os.urandom(SALT_BYTES)
    return RedactedDigest(secret=name, salt=salt.hex(), scrypt=salted_digest(value, salt))


def matches(entry: Mapping[str, object], value: str) -> bool:
    """Whether ``value`` is the secret the digest ``entry`` was made of."""
    try:
        salt = bytes.fromhex(str(entry["salt"]))
    except (KeyError, ValueError):
        return False
    return hmac.compare_digest(salted_digest(value, salt), str(entry.get("scrypt", "")))


def proof_notes(entries: Iterable[Mapping[str, object]], secrets: Mapping[str, str]) -> list[str]:
    """One line per recorded redaction of a secret given: proven, or not that value."""
    notes = []
    for entry in entries:
        name = str(entry.get("secret", ""))
        if name not in secrets:
            continue
        where = f"run {entry['run']}" if "run" in entry else "a run"
        if matches(entry, secrets[name]):
            notes.append(f"redaction: {where} removed the value of ${name} (salted digest matches)")
        else:
            notes.append(
                f"redaction: {where} removed a value of ${name} other than the one given "
                "(salted digest differs)"
            )
    return notes
