"""The transparency log: every seal appended, checkpoints signed, history proven."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from runbook_lib.base.fsutil import sha256_bytes
from runbook_lib.evidence import attest, index, logedge, merkle, sealproof, translog
from runbook_lib.evidence.layout import MANIFEST, SEAL_PROOF
from runbook_lib.evidence.seal import seal, verify_archive

IDS = ["INC-20261123-0612-3fa2", "INC-20261123-0613-3fa3"]


@pytest.fixture
def store(tmp_path: Path) -> Path:
    archive = tmp_path / "outputs"
    for name in IDS:
        directory = archive / "incidents" / name
        directory.mkdir(parents=True)
        (directory / "incident.json").write_text(json.dumps({"id": name}))
        seal(archive, directory, facts={"versions": {}})
    return archive


def test_every_seal_is_logged_and_its_inclusion_proof_verifies(store: Path) -> None:
    assert [e["incident"] for e in translog.read_log(store)] == IDS
    proof = translog.inclusion(store, IDS[1])
    assert proof is not None
    leaf = merkle.leaf_hash(
        json.dumps(proof["entry"], sort_keys=True, separators=(",", ":")).encode()
    )
    assert merkle.verify_inclusion(
        proof["index"],
        proof["size"],
        leaf,
        [bytes.fromhex(h) for h in proof["proof"]],
        bytes.fromhex(proof["root"]),
    )


def test_checkpoint_then_growth_is_consistent(store: Path, tmp_path: Path) -> None:
    key = attest.load_private_key(attest.generate_keypair(tmp_path / "k", store)[0])
    kept = translog.checkpoint(store, key)
    directory = store / "incidents" / IDS[0]
    (directory / "notes.txt").write_text("more evidence")
    seal(store, directory, facts={"versions": {}})
    assert translog.verify_checkpoint(store, kept, key.public_key()) == []
    other = attest.load_private_key(attest.generate_keypair(tmp_path / "o", store)[0])
    assert translog.verify_checkpoint(store, kept, other.public_key()) == [
        f"checkpoint: not signed by {attest.fingerprint(other.public_key())}"
    ]


def test_deleted_incident_with_its_index_rows_is_named(store: Path) -> None:
    kept = translog.checkpoint(store, None)
    shutil.rmtree(store / "incidents" / IDS[1])
    with sqlite3.connect(index.index_path(store)) as conn:
        conn.execute("DELETE FROM seals WHERE incident = ?", (IDS[1],))
    problems = translog.verify_checkpoint(store, kept, None)
    assert len(problems) == 1 and problems[0].startswith(f"log: incident {IDS[1]} was deleted")


def test_truncated_or_rewritten_log_is_named(store: Path) -> None:
    kept = translog.checkpoint(store, None)
    path = translog.log_path(store)
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(lines[0])
    assert translog.verify_checkpoint(store, kept, None)[0] == (
        "log: truncated history: the checkpoint has 2 seals, the log 1"
    )
    path.write_bytes(lines[1] + lines[0])
    assert translog.verify_checkpoint(store, kept, None)[0] == (
        "log: the first 2 seals differ from the checkpoint (rewritten)"
    )


def test_incident_rolled_back_to_an_earlier_seal_is_named(store: Path) -> None:
    directory = store / "incidents" / IDS[0]
    old = (directory / MANIFEST).read_bytes()
    (directory / "notes.txt").write_text("more evidence")
    seal(store, directory, facts={"versions": {}})
    kept = translog.checkpoint(store, None)
    (directory / "notes.txt").unlink()
    (directory / MANIFEST).write_bytes(old)
    problems = translog.verify_checkpoint(store, kept, None)
    assert problems == [
        f"log: {IDS[0]}/{MANIFEST} is rolled back to an earlier seal (logged "
        f"last {translog.read_log(store)[-1]['sealed_at']})"
    ]


def test_checkpoint_and_verify_commands(store: Path, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    cli = [sys.executable, "-m", "runbook_lib.app.cli", "archive"]
    kept = tmp_path / "checkpoint.json"
    done = subprocess.run(
        [*cli, "checkpoint", "--archive", str(store), "--out", str(kept)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    shutil.rmtree(store / "incidents" / IDS[1])
    with sqlite3.connect(index.index_path(store)) as conn:
        conn.execute("DELETE FROM seals WHERE incident = ?", (IDS[1],))
    verified = subprocess.run(
        [*cli, "verify", "--archive", str(store), "--checkpoint", str(kept)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert verified.returncode == 1
    assert f"log: incident {IDS[1]} was deleted" in verified.stdout + verified.stderr


def test_each_incident_keeps_its_seals_inclusion_proof_and_verify_checks_it(store: Path) -> None:
    for name in IDS:
        sealed = sealproof.parse_proof_file((store / "incidents" / name / SEAL_PROOF).read_bytes())
        assert sealed is not None and sealed.envelope is None
        kept = sealed.proof
        assert kept["entry"]["incident"] == name and kept["size"] == kept["index"] + 1
    assert all(report.ok for report in verify_archive(store))


def test_a_rewritten_log_is_named_by_the_kept_proofs(store: Path) -> None:
    path = translog.log_path(store)
    lines = path.read_text().splitlines(keepends=True)
    path.write_text(
        lines[0].replace("Z", "Y").replace('"sealed_at":"2', '"sealed_at":"1') + lines[1]
    )
    problems = [p for r in verify_archive(store) for p in r.problems]
    assert f"log: the first 1 seals differ from {SEAL_PROOF} (rewritten)" in problems


def test_an_incident_rolled_back_to_an_earlier_seal_is_named(store: Path) -> None:
    directory = store / "incidents" / IDS[0]
    old = {name: (directory / name).read_bytes() for name in (MANIFEST, SEAL_PROOF)}
    seal(store, directory, facts={"versions": {}})
    for name, data in old.items():
        (directory / name).write_bytes(data)
    index.record_seal(store, IDS[0], sha256_bytes(old[MANIFEST]), "t", 1)
    problems = verify_archive(store)[0].problems
    assert problems == [
        f"log: {MANIFEST} is rolled back to an earlier seal "
        f"(logged last {translog.read_log(store)[-1]['sealed_at']})"
    ]


def test_a_seal_appends_one_line_and_cuts_a_torn_one(store: Path) -> None:
    path = translog.log_path(store)
    before = path.read_bytes()
    with path.open("ab") as handle:
        handle.write(b'{"incident": "torn by a cra')  # a crash in the middle of an append
    assert [e["incident"] for e in translog.read_log(store)] == IDS
    seal(store, store / "incidents" / IDS[0], facts={"versions": {}})
    after = path.read_bytes()
    assert after.startswith(before) and after.count(b"\n") == before.count(b"\n") + 1
    assert [e["incident"] for e in translog.read_log(store)] == [*IDS, IDS[0]]
    assert all(report.ok for report in verify_archive(store))


def _append(archive: Path, number: int) -> translog.InclusionProof:
    return translog.append(archive, f"INC-{number:04d}", f"{number:064x}", None, "t")


def test_an_append_proves_what_the_whole_log_proves_whatever_became_of_the_kept_edge(
    tmp_path: Path,
) -> None:
    path = translog.log_path(tmp_path)
    edge = logedge.edge_path(path)
    for number in range(40):
        if number == 9:
            edge.unlink()  # lost
        elif number == 17:
            edge.write_bytes(edge.read_bytes().replace(b'"size":', b'"size": '))  # damaged
        elif number == 23:
            with path.open("ab") as handle:  # an append that kept no edge (an older runbook)
                handle.write(translog._entry_bytes({"incident": "INC-older"}) + b"\n")
        elif number == 31:
            with path.open("ab") as handle:
                handle.write(b'{"incident": "torn')  # a crash in the middle of an append
        proof = _append(tmp_path, number)
        assert proof == translog.inclusion(tmp_path, f"INC-{number:04d}")
    assert len(translog.read_log(tmp_path)) == 41


def test_a_forged_kept_edge_makes_a_proof_that_verify_names(store: Path) -> None:
    path = translog.log_path(store)
    kept = json.loads(logedge.edge_path(path).read_bytes().partition(b"\n")[2])
    logedge.save(path, kept["size"], [bytes(32)] * len(kept["edge"]), path.stat())
    seal(store, store / "incidents" / IDS[0], facts={"versions": {}})
    problems = [p for r in verify_archive(store) for p in r.problems]
    assert problems == [f"log: the first 3 seals differ from {SEAL_PROOF} (rewritten)"]


def test_a_seal_proof_file_that_is_none_is_named(store: Path) -> None:
    path = store / "incidents" / IDS[0] / SEAL_PROOF
    document = json.loads(path.read_text())
    document["mediaType"] = "application/vnd.dev.sigstore.bundle.v0.3+json"
    path.write_text(json.dumps(document))
    problems = [p for r in verify_archive(store) for p in r.problems]
    assert problems == [f"modified: {SEAL_PROOF} (it is no longer a seal proof)"]
