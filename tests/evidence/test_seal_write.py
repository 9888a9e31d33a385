"""How a seal writes its files: one durable group, one flush of the incident directory."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from runbook_lib.base import durable
from runbook_lib.evidence import attest, translog
from runbook_lib.evidence.layout import EARLIER_SEAL_FILES, MANIFEST, SEAL_PROOF
from runbook_lib.evidence.seal import seal, verify_incident

NAME = "INC-20261203-0700-5ea1"
FACTS: dict[str, object] = {"versions": {}}


@pytest.fixture
def incident(tmp_path: Path) -> Path:
    directory = tmp_path / "outputs" / "incidents" / NAME
    (directory / "checks").mkdir(parents=True)
    (directory / "incident.json").write_text(json.dumps({"id": NAME}))
    (directory / "checks" / "01-verify.json").write_text(json.dumps({"status": "pass"}))
    return directory


def _archive(directory: Path) -> Path:
    return directory.parent.parent


def _spy(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What the seal flushes and renames, in order (the real calls still run)."""
    events: list[str] = []
    real_fsync, real_replace, real_fsync_dir = os.fsync, os.replace, durable.fsync_dir
    in_dir_flush: list[Path] = []

    def fsync(fd: int) -> None:
        if not in_dir_flush:
            events.append("fsync")
        real_fsync(fd)

    def replace(source: str | Path, destination: str | Path) -> None:
        events.append(f"rename {Path(destination).name}")
        real_replace(source, destination)

    def fsync_dir(path: Path) -> None:
        events.append(f"dir {path.name}")
        in_dir_flush.append(path)
        try:
            real_fsync_dir(path)
        finally:
            in_dir_flush.pop()

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    monkeypatch.setattr(durable, "fsync_dir", fsync_dir)
    return events


@pytest.mark.parametrize("signed", [False, True])
def test_a_seal_flushes_its_files_then_renames_them_and_flushes_the_directory_once(
    incident: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, signed: bool
) -> None:
    if signed:
        key = attest.generate_keypair(tmp_path / "keys" / "seal.key", _archive(incident))[0]
        monkeypatch.setenv(attest.SIGNING_KEY_ENV, str(key))
    else:
        monkeypatch.delenv(attest.SIGNING_KEY_ENV, raising=False)
    seal(_archive(incident), incident, facts=FACTS)  # the log and the index exist from now on
    events = _spy(monkeypatch)
    seal(_archive(incident), incident, facts=FACTS)
    files = [MANIFEST, SEAL_PROOF]  # signed or not: the signature is kept in the proof file
    # The log's line, then each seal file's own flush (in any order: some run in the background).
    assert events[: 1 + len(files)] == ["fsync"] * (1 + len(files))
    assert events[1 + len(files) :] == [f"rename {name}" for name in files] + [f"dir {NAME}"]
    assert ("dsseEnvelope" in json.loads((incident / SEAL_PROOF).read_text())) is signed
    assert not [p.name for p in incident.iterdir() if p.name.endswith(".tmp")]
    assert verify_incident(_archive(incident), incident).problems == []


def test_an_unsigned_seal_removes_the_signature_of_an_earlier_seal(
    incident: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = attest.generate_keypair(tmp_path / "keys" / "seal.key", _archive(incident))[0]
    monkeypatch.setenv(attest.SIGNING_KEY_ENV, str(key))
    seal(_archive(incident), incident, facts=FACTS)
    monkeypatch.delenv(attest.SIGNING_KEY_ENV)
    seal(_archive(incident), incident, facts=FACTS)
    assert "dsseEnvelope" not in json.loads((incident / SEAL_PROOF).read_text())
    assert verify_incident(_archive(incident), incident).problems == []


def test_a_seal_deletes_the_earlier_layouts_files(incident: Path) -> None:
    seal(_archive(incident), incident, facts=FACTS)
    for name in EARLIER_SEAL_FILES:
        (incident / name).write_text("{}")  # as the earlier layout left them
    seal(_archive(incident), incident, facts=FACTS)
    assert not [name for name in EARLIER_SEAL_FILES if (incident / name).exists()]
    assert verify_incident(_archive(incident), incident).problems == []


def test_a_seal_that_cannot_log_leaves_the_earlier_seal_files_and_no_temporaries(
    incident: Path,
) -> None:
    seal(_archive(incident), incident, facts=FACTS)
    before = {name: (incident / name).read_bytes() for name in (MANIFEST, SEAL_PROOF)}
    log = translog.log_path(_archive(incident))
    log.unlink()
    log.mkdir()  # the append fails: a directory where the log should be
    (incident / "checks" / "02-verify.json").write_text(json.dumps({"status": "pass"}))
    with pytest.raises(IsADirectoryError):
        seal(_archive(incident), incident, facts=FACTS)
    assert {name: (incident / name).read_bytes() for name in before} == before
    assert sorted(p.name for p in incident.iterdir()) == sorted(
        ["checks", "incident.json", "archive.lock", MANIFEST, SEAL_PROOF]
    )


def test_a_seal_being_written_is_no_unrecorded_file_but_another_temporary_is(
    incident: Path,
) -> None:
    seal(_archive(incident), incident, facts=FACTS)
    (incident / f".{MANIFEST}.0123456789ab.tmp").write_text("{}")  # a seal between write and rename
    assert verify_incident(_archive(incident), incident).problems == []
    (incident / ".notes.txt.0123456789ab.tmp").write_text("planted")
    assert verify_incident(_archive(incident), incident).problems == [
        "unrecorded file: .notes.txt.0123456789ab.tmp"
    ]
