"""Offline bundles: made from one archive, verified elsewhere with only the public key."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from runbook_lib.base.errors import InvalidInputError
from runbook_lib.base.fsutil import sha256_bytes
from runbook_lib.evidence import attest
from runbook_lib.evidence.layout import EARLIER_INCLUSION, SEAL_PROOF
from runbook_lib.evidence.offline import build_bundle, verify_bundle
from runbook_lib.evidence.seal import seal

INCIDENT = "INC-20261123-0612-3fa2"


@pytest.fixture
def bundle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    private, public = attest.generate_keypair(tmp_path / "keys" / "k", tmp_path / "outputs")
    monkeypatch.setenv(attest.SIGNING_KEY_ENV, str(private))
    store = tmp_path / "outputs"
    directory = store / "incidents" / INCIDENT
    (directory / "runs").mkdir(parents=True)
    (directory / "incident.json").write_text(json.dumps({"id": INCIDENT}))
    (directory / "journal.jsonl").write_text('{"event": "begin"}\n')
    seal(store, directory, facts={"versions": {}})
    out = tmp_path / "elsewhere" / "bundle.tar.gz"
    out.parent.mkdir()
    build_bundle(store, directory, out, attest.configured_key())
    monkeypatch.delenv(attest.SIGNING_KEY_ENV)
    return out, public


def _rewrite(path: Path, name: str) -> None:
    with tarfile.open(path, "r:gz") as tar:
        members = [(m, tar.extractfile(m).read()) for m in tar.getmembers()]  # type: ignore[union-attr]
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for member, data in members:
            changed = bytes([data[0] ^ 1]) + data[1:] if member.name.endswith(name) else data
            tar.addfile(member, io.BytesIO(changed))
    path.write_bytes(buffer.getvalue())


def test_bundle_verifies_with_only_the_public_key_in_a_fresh_process(
    bundle: tuple[Path, Path], tmp_path: Path
) -> None:
    out, public = bundle
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNBOOK_")}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "runbook_lib.app.cli",
            "archive",
            "verify-bundle",
            str(out),
            "--pubkey",
            str(public),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=out.parent,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_one_changed_byte_fails_naming_the_file(bundle: tuple[Path, Path]) -> None:
    out, public = bundle
    _rewrite(out, "data/incident.json")
    problems = verify_bundle(out, attest.load_public_key(public))
    assert problems[0] == "modified: data/incident.json (its hash differs from manifest-sha256.txt)"


def test_another_key_is_refused(bundle: tuple[Path, Path], tmp_path: Path) -> None:
    out, _public = bundle
    other = attest.generate_keypair(tmp_path / "other", tmp_path / "outputs")[1]
    problems = verify_bundle(out, attest.load_public_key(other))
    assert problems and all(p.startswith(("signature:", "checkpoint:")) for p in problems)


def test_the_bundle_is_a_valid_bagit_bag(bundle: tuple[Path, Path], tmp_path: Path) -> None:
    bagit = pytest.importorskip("bagit")
    out, _public = bundle
    with tarfile.open(out, "r:gz") as tar:
        tar.extractall(tmp_path / "unpacked", filter="data")
    bag = bagit.Bag(str(tmp_path / "unpacked" / INCIDENT))
    bag.validate()


def _read_bundle(path: Path) -> dict[str, bytes]:
    with tarfile.open(path, "r:gz") as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers()}  # type: ignore[union-attr]


def _write_bundle(path: Path, files: dict[str, bytes]) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for member, content in files.items():
            info = tarfile.TarInfo(member)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    path.write_bytes(buffer.getvalue())


def _replace_and_rehash(path: Path, name: str, data: bytes) -> None:
    """Swap one payload file and recompute the bag's listings, as an attacker without the key."""
    files = _read_bundle(path)
    files[f"{INCIDENT}/{name}"] = data
    for listing in ("manifest-sha256.txt", "tagmanifest-sha256.txt"):
        lines = []
        for line in files[f"{INCIDENT}/{listing}"].decode().splitlines():
            _digest, _, member = line.partition("  ")
            lines.append(f"{sha256_bytes(files[f'{INCIDENT}/{member}'])}  {member}\n")
        files[f"{INCIDENT}/{listing}"] = "".join(lines).encode()
    _write_bundle(path, files)


def test_the_bundle_holds_the_seals_kept_inclusion_proof_and_checks_it(
    bundle: tuple[Path, Path],
) -> None:
    out, public = bundle
    with tarfile.open(out, "r:gz") as tar:
        kept = json.loads(tar.extractfile(f"{INCIDENT}/data/{SEAL_PROOF}").read())  # type: ignore[union-attr]
    assert verify_bundle(out, attest.load_public_key(public)) == []
    proof = kept["verificationMaterial"]["tlogEntries"][0]["inclusionProof"]
    proof["hashes"], proof["rootHash"] = [], "00" * 32
    _replace_and_rehash(out, f"data/{SEAL_PROOF}", json.dumps(kept).encode())
    assert verify_bundle(out, attest.load_public_key(public)) == [
        f"log: data/{SEAL_PROOF} does not lead to its root (edited)",
        f"log: data/{SEAL_PROOF} is not in the checkpoint's log (another seal or history)",
    ]


def test_a_bundle_of_the_earlier_seal_layout_is_named(bundle: tuple[Path, Path]) -> None:
    out, public = bundle
    files = _read_bundle(out)
    # As the earlier layout bundled it: the proof under its old name, no seal.proof.json.
    kept = files.pop(f"{INCIDENT}/data/{SEAL_PROOF}")
    files[f"{INCIDENT}/data/{EARLIER_INCLUSION}"] = kept
    listing = f"{INCIDENT}/manifest-sha256.txt"
    files[listing] = files[listing].replace(SEAL_PROOF.encode(), EARLIER_INCLUSION.encode())
    _write_bundle(out, files)
    _replace_and_rehash(out, f"data/{EARLIER_INCLUSION}", kept)  # the tag listing's hash again
    assert verify_bundle(out, attest.load_public_key(public)) == [
        f"layout: the earlier seal layout (data/{EARLIER_INCLUSION} instead of "
        f"data/{SEAL_PROOF}, which this version reads neither from); re-seal the incident "
        "and make the bundle again"
    ]


def test_an_incident_in_the_earlier_seal_layout_is_not_bundled(
    bundle: tuple[Path, Path], tmp_path: Path
) -> None:
    store = tmp_path / "outputs"
    directory = store / "incidents" / INCIDENT
    (directory / SEAL_PROOF).rename(directory / EARLIER_INCLUSION)
    with pytest.raises(InvalidInputError, match=f"no {SEAL_PROOF}"):
        build_bundle(store, directory, tmp_path / "again.tar.gz", None)
