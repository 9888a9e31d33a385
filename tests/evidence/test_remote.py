"""The evidence archive on object storage: a real moto S3 server on 127.0.0.1, and local paths."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("s3fs", reason="the s3 extra is not installed: pip install -e '.[s3]'")
pytest.importorskip("moto", reason="the s3 extra is not installed: pip install -e '.[s3]'")

import boto3

from runbook_lib.app.cli import main
from runbook_lib.base.errors import CheckFailedError, InvalidInputError
from runbook_lib.base.fsutil import sha256_bytes
from runbook_lib.evidence import attest, index, remote
from runbook_lib.evidence.amend import amending
from runbook_lib.evidence.chain import append_run
from runbook_lib.evidence.findings import UNSIGNED
from runbook_lib.evidence.layout import EARLIER_INCLUSION, SEAL_PROOF
from runbook_lib.evidence.seal import seal

INCIDENT = "INC-20261123-0612-3fa2"
RUN1 = "runs/01-01_assessment.ipynb"


@pytest.fixture
def s3(moto_endpoint: str) -> Any:
    return boto3.client("s3", endpoint_url=moto_endpoint)


@pytest.fixture
def bucket(s3: Any) -> str:
    name = f"evidence-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


@pytest.fixture
def store(tmp_path: Path) -> Path:
    """A local archive holding one sealed incident with two chained runs."""
    store = tmp_path / "outputs"
    incident = store / "incidents" / INCIDENT
    (incident / "runs").mkdir(parents=True)
    (incident / "incident.json").write_text(json.dumps({"id": INCIDENT}))
    for seq, name in enumerate(["01_assessment", "02_rollback"], 1):
        out = incident / "runs" / f"0{seq}-{name}.ipynb"
        out.write_text(json.dumps({"cells": [], "name": name}))
        record = append_run(
            incident, {"incident": INCIDENT, "notebook": name, "status": "ok", "output": out.name}
        )
        index.add_run(store, record)
    seal(store, incident, facts={"versions": {}})
    return store


def _objects(s3: Any, bucket: str) -> dict[str, bytes]:
    listed = s3.list_objects_v2(Bucket=bucket).get("Contents", [])
    return {o["Key"]: s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read() for o in listed}


def test_push_verifies_and_a_second_push_skips_everything(
    store: Path, bucket: str, s3: Any
) -> None:
    url = f"s3://{bucket}/evidence"
    report = remote.push_incident(store, INCIDENT, url)
    assert report.ok, report.verify
    assert len(report.uploaded) == 6 and not report.skipped
    assert report.uploaded[-2].endswith(f"{INCIDENT}/{SEAL_PROOF}")  # the seal's proof too
    assert report.uploaded[-1].endswith(f"{INCIDENT}/manifest.json")  # the manifest goes last
    assert report.verify is not None and report.verify.files_checked == 4
    assert report.verify.runs_checked == 2
    assert report.verify.notes == [f"{UNSIGNED} who sealed it (no signature in {SEAL_PROOF})"]
    keys = set(_objects(s3, bucket))
    assert f"evidence/{INCIDENT}/{RUN1}" in keys and len(keys) == 6
    again = remote.push_incident(store, INCIDENT, url)
    assert again.ok and not again.uploaded and len(again.skipped) == 6
    assert set(_objects(s3, bucket)) == keys  # no nested second copy on a rerun


def test_remote_changes_are_named(store: Path, bucket: str, s3: Any) -> None:
    url = f"s3://{bucket}/p"
    remote.push_incident(store, INCIDENT, url)
    key = f"p/{INCIDENT}/{RUN1}"
    data = bytearray(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    data[5] ^= 1
    s3.put_object(Bucket=bucket, Key=key, Body=bytes(data))
    s3.delete_object(Bucket=bucket, Key=f"p/{INCIDENT}/incident.json")
    s3.put_object(Bucket=bucket, Key=f"p/{INCIDENT}/runs/planted.txt", Body=b"x")
    report = remote.verify_remote(url, INCIDENT, store)
    assert report.problems == [
        "missing: incident.json",
        "added: runs/planted.txt",
        f"modified: {RUN1}",
    ]


def test_remote_manifest_is_checked_against_the_local_seal(
    store: Path, bucket: str, s3: Any
) -> None:
    url = f"s3://{bucket}/p"
    remote.push_incident(store, INCIDENT, url)
    key = f"p/{INCIDENT}/manifest.json"
    manifest = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    manifest["sealed_at"] = "2020-01-01T00:00:00+00:00"
    s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(manifest).encode())
    logged = f"log: {SEAL_PROOF} proves another seal, not this manifest.json"
    problems = remote.verify_remote(url, INCIDENT, store).problems
    assert problems[0] == logged and len(problems) == 2
    assert problems[1].startswith("modified: manifest.json (its hash differs from the seal")
    elsewhere = remote.verify_remote(url, INCIDENT, store.parent / "no-archive-here")
    assert elsewhere.problems == [logged]
    assert elsewhere.notes[-1].startswith("anchor unavailable")


def test_an_interrupted_multipart_upload_is_resumed(store: Path, bucket: str, s3: Any) -> None:
    part = remote.MIN_PART_SIZE
    incident = store / "incidents" / INCIDENT
    big = bytes(range(256)) * ((2 * part + 1000) // 256)
    with amending(store, incident):
        (incident / "blobs").mkdir()
        (incident / "blobs" / "replay.bin").write_bytes(big)
    key = f"p/{INCIDENT}/blobs/replay.bin"
    # An earlier push died after its first part went up (and a damaged second part).
    upload = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    s3.upload_part(Bucket=bucket, Key=key, UploadId=upload, PartNumber=1, Body=big[:part])
    s3.upload_part(Bucket=bucket, Key=key, UploadId=upload, PartNumber=2, Body=b"\0" * part)
    report = remote.push_incident(store, INCIDENT, f"s3://{bucket}/p", part_size=part)
    assert report.ok, report.verify
    assert report.resumed == [f"{bucket}/{key}"]
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == big
    assert not s3.list_multipart_uploads(Bucket=bucket).get("Uploads")


@pytest.mark.parametrize("scheme", ["", "file://"])
def test_local_directories_take_the_same_path(store: Path, tmp_path: Path, scheme: str) -> None:
    url = f"{scheme}{tmp_path / 'shared'}"
    assert remote.push_incident(store, INCIDENT, url).ok
    copy = tmp_path / "shared" / INCIDENT
    assert sorted(p.name for p in copy.rglob("*.partial")) == []
    (copy / RUN1).write_text("rewritten")
    assert remote.verify_remote(url, INCIDENT, store).problems == [f"modified: {RUN1}"]
    fixed = remote.push_incident(store, INCIDENT, url)
    assert fixed.ok and fixed.uploaded == [f"{copy / RUN1}"]


def test_a_pushed_copy_without_its_proof_names_the_push_that_uploads_it(
    store: Path, tmp_path: Path
) -> None:
    url = str(tmp_path / "shared")
    assert remote.push_incident(store, INCIDENT, url).ok
    copy = tmp_path / "shared" / INCIDENT
    (copy / SEAL_PROOF).rename(copy / EARLIER_INCLUSION)  # as a push of the earlier layout left it
    push_again = f"run 'runbook archive push {INCIDENT} --to URL' to upload it again"
    assert remote.verify_remote(url, INCIDENT, store).problems == [
        f"layout: the earlier seal layout pushed ({EARLIER_INCLUSION} instead of {SEAL_PROOF}, "
        f"which this version reads neither from); re-seal the incident and {push_again}"
    ]
    (copy / EARLIER_INCLUSION).unlink()
    assert remote.verify_remote(url, INCIDENT, store).problems == [
        f"missing: {SEAL_PROOF} (the seal's signature and proof in the log, not in the "
        f"pushed copy); {push_again}"
    ]
    assert remote.push_incident(store, INCIDENT, url).ok


def test_bad_input_is_refused_before_anything_is_written(store: Path, tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    with pytest.raises(InvalidInputError, match="cannot open nosuch://"):
        remote.push_incident(store, INCIDENT, "nosuch://x/y")
    with pytest.raises(InvalidInputError, match="no incident INC-20261123-0000-aaaa"):
        remote.push_incident(store, "INC-20261123-0000-aaaa", str(dest))
    with pytest.raises(InvalidInputError, match="part size"):
        remote.push_incident(store, INCIDENT, str(dest), part_size=1024)
    (store / "incidents" / INCIDENT / RUN1).write_text("tampered")
    with pytest.raises(CheckFailedError, match=f"modified: {RUN1}.*refusing to push"):
        remote.push_incident(store, INCIDENT, str(dest))
    assert not dest.exists()


def test_cli_push_and_remote_verify(
    store: Path, bucket: str, s3: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"s3://{bucket}/cli"
    assert main(["archive", "push", INCIDENT, "--to", url, "--archive", str(store)]) == 0
    assert capsys.readouterr().out.startswith(f"ok    {INCIDENT} -> {url}")
    assert (
        main(["archive", "verify", INCIDENT, "--from", url, "--archive", str(store), "--json"]) == 0
    )
    verdict = json.loads(capsys.readouterr().out)
    assert verdict["consistent"] is True and verdict["verdict"] == UNSIGNED
    s3.put_object(Bucket=bucket, Key=f"cli/{INCIDENT}/{RUN1}", Body=b"changed")
    assert main(["archive", "verify", INCIDENT, "--from", url, "--archive", str(store)]) == 1
    captured = capsys.readouterr()
    assert f"  modified: {RUN1}" in captured.out and "does not verify" in captured.err
    assert main(["archive", "verify", "--from", url, "--archive", str(store)]) == 2
    assert "--from needs an incident ID" in capsys.readouterr().err


def test_a_remote_copy_edited_and_resealed_without_the_key_is_named_with_no_local_index(
    tmp_path: Path, bucket: str, s3: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """The pushed signature and proof prove the remote manifest where no index is at hand."""
    private, public = attest.generate_keypair(tmp_path / "keys" / "k", tmp_path / "outputs")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(attest.SIGNING_KEY_ENV, str(private))
        store = _signed_store(tmp_path)
        assert remote.push_incident(store, INCIDENT, f"s3://{bucket}/s").ok
    url, nowhere = f"s3://{bucket}/s", str(tmp_path / "no-archive-here")
    args = ["archive", "verify", INCIDENT, "--from", url, "--archive", nowhere]
    assert main([*args, "--pubkey", str(public)]) == 0
    assert capsys.readouterr().out.startswith(f"ok    {INCIDENT}")
    prefix = f"s/{INCIDENT}"
    s3.put_object(Bucket=bucket, Key=f"{prefix}/{RUN1}", Body=b'{"cells": ["edited"]}')
    key = f"{prefix}/manifest.json"
    manifest = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    manifest["files"][RUN1]["sha256"] = sha256_bytes(b'{"cells": ["edited"]}')
    s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(manifest).encode())
    assert main([*args, "--pubkey", str(public)]) == 1
    out = capsys.readouterr().out
    assert f"  signature: {SEAL_PROOF} does not cover this manifest.json" in out
    assert f"  log: {SEAL_PROOF} proves another seal, not this manifest.json" in out


def _signed_store(tmp_path: Path) -> Path:
    store = tmp_path / "outputs"
    incident = store / "incidents" / INCIDENT
    (incident / "runs").mkdir(parents=True)
    (incident / "incident.json").write_text(json.dumps({"id": INCIDENT}))
    (incident / RUN1).write_text(json.dumps({"cells": []}))
    index.add_run(
        store,
        append_run(
            incident,
            {"incident": INCIDENT, "notebook": "01_assessment", "status": "ok", "output": RUN1},
        ),
    )
    seal(store, incident, facts={"versions": {}})
    return store
