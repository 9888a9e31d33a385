"""The tamper matrix: each attack, done as well as one can without the key, is named."""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from runbook_lib.base.fsutil import sha256_bytes
from runbook_lib.evidence import attest, index, sealproof, translog
from runbook_lib.evidence.chain import append_run
from runbook_lib.evidence.layout import CHAIN, JOURNAL_FILE, MANIFEST, SEAL_PROOF
from runbook_lib.evidence.seal import inventory, seal, verify_or_note
from runbook_lib.evidence.started import record_start

INCIDENT = "INC-20261123-0612-3fa2"


@pytest.fixture
def case(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    private, public = attest.generate_keypair(tmp_path / "keys" / "k", tmp_path / "outputs")
    monkeypatch.setenv(attest.SIGNING_KEY_ENV, str(private))
    store = tmp_path / "outputs"
    directory = store / "incidents" / INCIDENT
    (directory / "runs").mkdir(parents=True)
    (directory / "incident.json").write_text(json.dumps({"id": INCIDENT}))
    (directory / JOURNAL_FILE).write_text('{"event": "begin"}\n{"event": "end"}\n')
    for seq, name in enumerate(["01_assessment", "02_rollback"], 1):
        out = f"runs/0{seq}-{name}.ipynb"
        (directory / out).write_text(json.dumps({"cells": [], "name": name}))
        index.add_run(
            store,
            append_run(
                directory, {"incident": INCIDENT, "notebook": name, "status": "ok", "output": out}
            ),
        )
    seal(store, directory, facts={"versions": {}})
    checkpoint = translog.checkpoint(store, attest.load_private_key(private))
    monkeypatch.delenv(attest.SIGNING_KEY_ENV)  # the attacker and the reviewer lack it
    return {
        "store": store,
        "dir": directory,
        "public": public,
        "checkpoint": checkpoint,
        "tmp": tmp_path,
    }


def _reseal_without_key(store: Path, directory: Path) -> None:
    """Recompute the manifest and its index anchor as the attacker can (no signature)."""
    manifest = json.loads((directory / MANIFEST).read_text())
    manifest["files"] = inventory(directory)
    chain = [json.loads(line) for line in (directory / CHAIN).read_text().splitlines()]
    manifest["chain_head"] = chain[-1]["hash"] if chain else "0" * 64
    data = (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode()
    (directory / MANIFEST).write_bytes(data)
    index.record_seal(store, INCIDENT, sha256_bytes(data), manifest["sealed_at"], 0)


def _rechain(directory: Path, records: list[dict[str, object]]) -> None:
    (directory / CHAIN).unlink()
    for record in records:
        append_run(directory, {k: v for k, v in record.items() if k not in {"seq", "prev", "hash"}})


def edit_and_recompute(store: Path, directory: Path, tmp: Path) -> None:
    (directory / "runs/02-02_rollback.ipynb").write_text('{"cells": [], "edited": true}')
    _reseal_without_key(store, directory)


def truncate_journal_and_reseal(store: Path, directory: Path, tmp: Path) -> None:
    (directory / JOURNAL_FILE).write_text('{"event": "begin"}\n')
    _reseal_without_key(store, directory)


def reorder_runs_and_reseal(store: Path, directory: Path, tmp: Path) -> None:
    records = [json.loads(line) for line in (directory / CHAIN).read_text().splitlines()]
    _rechain(directory, records[::-1])
    _reseal_without_key(store, directory)


def drop_run_and_reseal(store: Path, directory: Path, tmp: Path) -> None:
    records = [json.loads(line) for line in (directory / CHAIN).read_text().splitlines()]
    (directory / "runs/02-02_rollback.ipynb").unlink()
    _rechain(directory, records[:1])
    with sqlite3.connect(index.index_path(store)) as conn:
        conn.execute("DELETE FROM runs WHERE seq = 2")
    _reseal_without_key(store, directory)


def forged_files(store: Path, directory: Path, tmp: Path) -> None:
    (directory / "runs/09-forged-approval.ipynb").write_text("{}")
    (directory / "checks-approval.json").write_text('{"approved": true}')


def killed_run(store: Path, directory: Path, tmp: Path) -> None:
    notebook = tmp / "03_verify.ipynb"
    notebook.write_text("{}")
    record_start(directory, directory / "runs/03-03_verify.ipynb", notebook, {})


def _replace_envelope(directory: Path, envelope: attest.Envelope | None) -> None:
    """Rewrite the seal proof file with another envelope (``None``: none), keeping its proof."""
    kept = sealproof.parse_proof_file((directory / SEAL_PROOF).read_bytes())
    assert kept is not None
    signed = translog.envelope_json(envelope) if envelope is not None else None
    (directory / SEAL_PROOF).write_bytes(sealproof.proof_file_bytes(signed, kept.proof))


def resigned_with_another_key(store: Path, directory: Path, tmp: Path) -> None:
    edit_and_recompute(store, directory, tmp)
    key = attest.load_private_key(attest.generate_keypair(tmp / "other", store)[0])
    data = (directory / MANIFEST).read_bytes()
    body = attest.statement(data, json.loads(data), None, key.public_key(), "forged")
    _replace_envelope(directory, attest.sign(body, key))


def changed_envelope(store: Path, directory: Path, tmp: Path) -> None:
    document = json.loads((directory / SEAL_PROOF).read_text())
    document["dsseEnvelope"]["signatures"][0]["keyid"] = "sha256:" + "0" * 64
    (directory / SEAL_PROOF).write_text(json.dumps(document))


def signature_dropped(store: Path, directory: Path, tmp: Path) -> None:
    _replace_envelope(directory, None)


def proof_of_another_seal(store: Path, directory: Path, tmp: Path) -> None:
    seal(store, directory, facts={"versions": {}})  # a later seal, unsigned
    later = (directory / SEAL_PROOF).read_bytes()
    edit_and_recompute(store, directory, tmp)
    (directory / SEAL_PROOF).write_bytes(later)


def earlier_layout_files(store: Path, directory: Path, tmp: Path) -> None:
    (directory / SEAL_PROOF).rename(directory / "seal.inclusion.json")


ATTACKS: dict[str, Callable[[Path, Path, Path], None]] = {
    "edit-recompute": edit_and_recompute,
    "truncate-journal": truncate_journal_and_reseal,
    "reorder-runs": reorder_runs_and_reseal,
    "drop-run": drop_run_and_reseal,
    "forged-files": forged_files,
    "killed-run": killed_run,
    "resigned": resigned_with_another_key,
    "changed-envelope": changed_envelope,
    "signature-dropped": signature_dropped,
    "proof-of-another-seal": proof_of_another_seal,
    "earlier-layout": earlier_layout_files,
}


def _checkpoint(case: dict[str, object]) -> bytes:
    value = case["checkpoint"]
    assert isinstance(value, bytes)
    return value


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_attack_is_named_in_one_line(case: dict[str, object], attack: str) -> None:
    store, directory = Path(str(case["store"])), Path(str(case["dir"]))
    ATTACKS[attack](store, directory, Path(str(case["tmp"])))
    trusted = attest.load_public_key(Path(str(case["public"])))
    problems = verify_or_note(store, directory, trusted=trusted).problems
    problems += translog.verify_checkpoint(store, _checkpoint(case), trusted)
    assert problems, f"{attack} was not detected"
    assert all(
        "\n" not in p and (".json" in p or ".ipynb" in p or "run " in p or "seal" in p)
        for p in problems
    ), problems


def test_deleted_incident_with_its_index_rows_is_named(case: dict[str, object]) -> None:
    store, directory = Path(str(case["store"])), Path(str(case["dir"]))
    shutil.rmtree(directory)
    with sqlite3.connect(index.index_path(store)) as conn:
        conn.execute("DELETE FROM seals")
        conn.execute("DELETE FROM runs")
    problems = translog.verify_checkpoint(store, _checkpoint(case), None)
    assert problems == [
        f"log: incident {INCIDENT} was deleted (last sealed "
        f"{translog.read_log(store)[-1]['sealed_at']})"
    ]


def test_unsigned_archive_never_says_it_is_proven(case: dict[str, object]) -> None:
    store, directory = Path(str(case["store"])), Path(str(case["dir"]))
    _replace_envelope(directory, None)  # the signature dropped: its seal's log entry names it
    assert f"log: {SEAL_PROOF} holds no signature, and the seal it proves was signed" in (
        verify_or_note(store, directory).problems
    )
    seal(store, directory, facts={"versions": {}})  # resealed with no key set: unsigned
    report = verify_or_note(store, directory)
    assert report.verdict == "unsigned: cannot prove" and not report.to_dict()["ok"]
    assert report.line().startswith(f"unsigned: cannot prove {INCIDENT} ")
