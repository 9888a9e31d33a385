"""Salted digests prove which secret a redaction removed, to whoever holds it."""

from __future__ import annotations

from runbook_lib.target.redaction_digest import digest_secret, matches, proof_notes


def test_a_digest_matches_its_value_only() -> None:
    entry = digest_secret("TOKEN", "s3cret-value")
    assert matches(entry, "s3cret-value")
    assert not matches(entry, "s3cret-valuE")
    assert "s3cret-value" not in str(entry)


def test_the_same_value_digests_differently_under_each_salt() -> None:
    first, second = digest_secret("TOKEN", "v"), digest_secret("TOKEN", "v")
    assert first["salt"] != second["salt"] and first["scrypt"] != second["scrypt"]


def test_a_damaged_entry_never_matches() -> None:
    entry = dict(digest_secret("TOKEN", "v"), salt="not hex")
    assert not matches(entry, "v")


def test_notes_name_the_run_and_only_the_secrets_given() -> None:
    entries = [dict(digest_secret("A", "a"), run=2), dict(digest_secret("B", "b"), run=3)]
    assert proof_notes(entries, {"A": "a"}) == [
        "redaction: run 2 removed the value of $A (salted digest matches)"
    ]
    assert "other than the one given" in proof_notes(entries, {"B": "x"})[0]
