"""A seal without a signing key imports no cryptography; with one, it signs as before."""

from __future__ import annotations

from runbook_lib.evidence import attest, keyconfig


def test_seal_reads_the_same_signing_key_variable_as_attest() -> None:
    assert keyconfig.SIGNING_KEY_ENV == attest.SIGNING_KEY_ENV
