"""Signed seals: DSSE envelopes over in-toto statements, Ed25519 keys from `runbook keys`."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from runbook_lib.base.errors import InvalidInputError
from runbook_lib.base.fsutil import sha256_bytes
from runbook_lib.evidence import attest, index, sealproof, translog
from runbook_lib.evidence.layout import MANIFEST, SEAL_PROOF
from runbook_lib.evidence.seal import seal, verify_incident

INCIDENT = "INC-20261123-0612-3fa2"


def test_pae_matches_the_dsse_specification() -> None:
    assert attest.pae("http://example.com/HelloWorld", b"hello world") == (
        b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
    )


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Path, Path]:
    return attest.generate_keypair(tmp_path / "keys" / "seal.key", tmp_path / "outputs")


@pytest.fixture
def signed(
    tmp_path: Path, keys: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> tuple[Path, Path]:
    monkeypatch.setenv(attest.SIGNING_KEY_ENV, str(keys[0]))
    store = tmp_path / "outputs"
    incident = store / "incidents" / INCIDENT
    incident.mkdir(parents=True)
    (incident / "incident.json").write_text(json.dumps({"id": INCIDENT}))
    seal(store, incident, facts={"versions": {}})
    monkeypatch.delenv(attest.SIGNING_KEY_ENV)  # the verifier has only the public key
    return store, incident


def test_generated_private_key_is_0600_and_refused_inside_the_archive(
    tmp_path: Path, keys: tuple[Path, Path]
) -> None:
    assert stat.S_IMODE(keys[0].stat().st_mode) == 0o600
    with pytest.raises(InvalidInputError, match="inside the archive"):
        attest.generate_keypair(tmp_path / "outputs" / "k.key", tmp_path / "outputs")


def test_signed_seal_verifies_with_the_public_key(
    signed: tuple[Path, Path], keys: tuple[Path, Path]
) -> None:
    store, incident = signed
    trusted = attest.load_public_key(keys[1])
    report = verify_incident(store, incident, trusted=trusted)
    assert report.ok, report.problems
    assert report.notes == [f"signed by {attest.fingerprint(trusted)}"]
    envelope = json.loads((incident / SEAL_PROOF).read_text())["dsseEnvelope"]
    body = json.loads(__import__("base64").b64decode(envelope["payload"]))
    assert body["_type"] == attest.STATEMENT_TYPE
    assert {s["name"] for s in body["subject"]} == {MANIFEST, "incident.json"}
    assert body["predicate"]["key"] == attest.fingerprint(trusted)


def _recompute_without_key(store: Path, incident: Path) -> None:
    """Edit a file, then rewrite the manifest and its index anchor as an attacker could."""
    (incident / "incident.json").write_text(json.dumps({"id": INCIDENT, "edited": True}))
    manifest = json.loads((incident / MANIFEST).read_text())
    manifest["files"]["incident.json"]["sha256"] = sha256_bytes(
        (incident / "incident.json").read_bytes()
    )
    data = (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode()
    (incident / MANIFEST).write_bytes(data)
    index.record_seal(store, INCIDENT, sha256_bytes(data), manifest["sealed_at"], 1)


def _replace_envelope(incident: Path, envelope: attest.Envelope | None) -> None:
    """Rewrite the seal proof file with another envelope (``None``: none), as an attacker could."""
    kept = sealproof.parse_proof_file((incident / SEAL_PROOF).read_bytes())
    assert kept is not None
    signed = translog.envelope_json(envelope) if envelope is not None else None
    (incident / SEAL_PROOF).write_bytes(sealproof.proof_file_bytes(signed, kept.proof))


def test_recomputed_seal_without_the_key_is_named(
    signed: tuple[Path, Path], keys: tuple[Path, Path]
) -> None:
    store, incident = signed
    _recompute_without_key(store, incident)
    trusted = attest.load_public_key(keys[1])
    logged = f"log: {SEAL_PROOF} proves another seal, not this {MANIFEST}"
    assert verify_incident(store, incident, trusted=trusted).problems == [
        f"signature: {SEAL_PROOF} does not cover this manifest.json",
        logged,
    ]
    _replace_envelope(incident, None)
    assert verify_incident(store, incident, trusted=trusted).problems == [
        f"unsigned: cannot prove {MANIFEST} (no signature in {SEAL_PROOF}, a key was given)",
        logged,
        f"log: {SEAL_PROOF} holds no signature, and the seal it proves was signed",
    ]
    (incident / SEAL_PROOF).unlink()
    assert verify_incident(store, incident, trusted=trusted).problems == [
        f"unsigned: cannot prove {MANIFEST} (no {SEAL_PROOF}, a key was given)",
        f"missing: {SEAL_PROOF}, and {MANIFEST} is not the last logged seal of {INCIDENT} "
        f"(logged last {json.loads((incident / MANIFEST).read_text())['sealed_at']})",
    ]


def test_statement_resigned_with_another_key_is_named(
    signed: tuple[Path, Path], keys: tuple[Path, Path], tmp_path: Path
) -> None:
    store, incident = signed
    _recompute_without_key(store, incident)
    other = attest.generate_keypair(tmp_path / "other.key", store)[0]
    manifest_bytes = (incident / MANIFEST).read_bytes()
    key = attest.load_private_key(other)
    body = attest.statement(
        manifest_bytes, json.loads(manifest_bytes), None, key.public_key(), "forged"
    )
    _replace_envelope(incident, attest.sign(body, key))
    trusted = attest.load_public_key(keys[1])
    problems = verify_incident(store, incident, trusted=trusted).problems
    assert problems == [
        f"signature: {SEAL_PROOF} is not signed by {attest.fingerprint(trusted)} "
        f"(signed by {attest.fingerprint(key.public_key())})",
        f"log: {SEAL_PROOF} proves another seal, not this {MANIFEST}",
        f"log: {SEAL_PROOF} proves another signature, not the one it holds",
    ]


def test_unsigned_archive_says_it_cannot_prove(tmp_path: Path) -> None:
    store = tmp_path / "outputs"
    incident = store / "incidents" / INCIDENT
    incident.mkdir(parents=True)
    (incident / "incident.json").write_text("{}")
    seal(store, incident, facts={"versions": {}})
    report = verify_incident(store, incident)
    assert report.ok and report.verdict == "unsigned: cannot prove"
    assert report.notes == [
        "unsigned: cannot prove who sealed it (no signature in seal.proof.json; no signing key set)"
    ]


def test_keys_generate_command(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    command = [
        sys.executable,
        "-m",
        "runbook_lib.app.cli",
        "keys",
        "generate",
        "--archive",
        str(tmp_path / "outputs"),
    ]
    inside = subprocess.run(
        [*command, "--out", str(tmp_path / "outputs" / "k")],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert inside.returncode == 2 and "inside the archive" in inside.stderr
    (tmp_path / "outputs").mkdir(exist_ok=True)
    done = subprocess.run(
        [*command, "--out", str(tmp_path / "k")],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "fingerprint sha256:" in done.stdout and (tmp_path / "k.pub").is_file()


def test_the_statement_carries_the_salted_digests_of_redactions(tmp_path: Path) -> None:
    key = attest.load_private_key(attest.generate_keypair(tmp_path / "k.key", tmp_path / "a")[0])
    entry = {"secret": "TOKEN", "salt": "00" * 16, "scrypt": "ab" * 32, "run": 1}
    body = attest.statement(b"{}", {"redactions": [entry]}, None, key.public_key(), "t")
    assert body["predicate"]["redactions"] == [entry]


def test_the_configured_key_is_parsed_once_checked_each_time_and_reread_when_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = attest.generate_keypair(tmp_path / "keys" / "seal.key", None)[0]
    monkeypatch.setenv(attest.SIGNING_KEY_ENV, str(path))
    parsed: list[Path] = []
    real_load = attest.load_private_key

    def counting_load(key_file: Path) -> Ed25519PrivateKey:
        parsed.append(key_file)
        return real_load(key_file)

    monkeypatch.setattr(attest, "load_private_key", counting_load)
    first = attest.configured_key()
    assert first is not None
    assert attest.configured_key() is first and len(parsed) == 1
    os.chmod(path, 0o644)
    with pytest.raises(InvalidInputError, match="others may read it"):
        attest.configured_key()
    path.unlink()
    path.with_name("seal.key.pub").unlink()
    attest.generate_keypair(path, None)
    second = attest.configured_key()
    assert second is not None and len(parsed) == 2
    assert attest.fingerprint(second.public_key()) != attest.fingerprint(first.public_key())
