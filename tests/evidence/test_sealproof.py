"""seal.proof.json: one file with the seal's envelope and its inclusion proof, read back whole."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runbook_lib.base.fsutil import sha256_bytes
from runbook_lib.evidence import attest, sealproof, translog
from runbook_lib.evidence.layout import MANIFEST, SEAL_PROOF
from runbook_lib.evidence.seal import seal


def test_the_file_is_one_json_document_whose_envelope_the_log_entry_hashes(
    tmp_path: Path,
) -> None:
    key = attest.load_private_key(attest.generate_keypair(tmp_path / "k", None)[0])
    envelope = attest.sign({"_type": "test", "note": 'é\n"'}, key)
    proof = translog.append(tmp_path, "INC-1", "0" * 64, None, "t")
    for signed in (None, translog.envelope_json(envelope)):
        data = sealproof.proof_file_bytes(signed, proof)
        document = json.loads(data)
        assert document["mediaType"] == sealproof.MEDIA_TYPE
        assert document.get("dsseEnvelope") == (envelope if signed is not None else None)
        read = sealproof.parse_proof_file(data)
        assert read is not None and read.proof == proof
        assert translog.envelope_sha256(read.envelope) == (
            sha256_bytes(signed) if signed is not None else None
        )
        assert data.endswith(b"\n}\n") and data.count(b"\n") > 10  # laid out to be read


def test_a_signed_seal_keeps_its_envelope_and_proof_in_the_one_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    private = attest.generate_keypair(tmp_path / "keys" / "k", None)[0]
    monkeypatch.setenv(attest.SIGNING_KEY_ENV, str(private))
    store = tmp_path / "outputs"
    incident = store / "incidents" / "INC-20261203-0800-0a1b"
    incident.mkdir(parents=True)
    (incident / "incident.json").write_text("{}")
    seal(store, incident, facts={"versions": {}})
    read = sealproof.parse_proof_file((incident / SEAL_PROOF).read_bytes())
    assert read is not None and read.envelope is not None
    entry = translog.read_log(store)[-1]
    assert read.proof["entry"] == entry
    assert entry["manifest_sha256"] == sha256_bytes((incident / MANIFEST).read_bytes())
    assert entry["envelope_sha256"] == translog.envelope_sha256(read.envelope)
