"""The evidence archive on object storage: push an incident, verify the remote copy.

One fsspec code path serves local paths, ``file://`` URLs and ``s3://`` (the
``s3`` extra). An incident pushed to ``URL`` lives at ``URL/<ID>/``, laid out
as in the local archive. Its manifest goes up last, so a remote copy without
one is an unfinished push. Every object is hashed with sha256 after upload
(``fs.checksum()`` is not a content hash), and a push run again skips objects
that already hold the right bytes and resumes unfinished S3 multipart uploads.

S3 credentials and endpoint come from the usual places (``AWS_ACCESS_KEY_ID``,
``AWS_SECRET_ACCESS_KEY``, ``AWS_ENDPOINT_URL``, ``~/.aws``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from runbook_lib.base.errors import CheckFailedError, InvalidInputError, WorkspaceError
from runbook_lib.base.fsutil import sha256_file
from runbook_lib.evidence import index
from runbook_lib.evidence.amend import run_lock
from runbook_lib.evidence.chain import GENESIS, verify_chain
from runbook_lib.evidence.findings import VerifyReport
from runbook_lib.evidence.layout import CHAIN, MANIFEST, SEAL_FILES, SEAL_PROOF
from runbook_lib.evidence.remote_seal import check_seal
from runbook_lib.evidence.seal import parse_manifest, read_manifest, verify_incident

_CHUNK = 1 << 20
# S3 refuses parts below 5 MiB except the last one.
MIN_PART_SIZE = 5 << 20
DEFAULT_PART_SIZE = 8 << 20
_PUSH_LOCK_TIMEOUT = 600.0


@dataclass
class PushReport:
    """What :func:`push_incident` did, object by object."""

    incident: str
    url: str
    uploaded: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    resumed: list[str] = field(default_factory=list)
    bytes_uploaded: int = 0
    verify: VerifyReport | None = None

    @property
    def ok(self) -> bool:
        """True when the remote copy verified after the push."""
        return self.verify is not None and self.verify.ok

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        data = asdict(self)
        data["verify"] = self.verify.to_dict() if self.verify else None
        return {**data, "ok": self.ok}


_SCHEMES = ("", "file", "s3")


def open_url(url: str) -> tuple[Any, str]:
    """The fsspec filesystem and root path of a local path, ``file://`` or ``s3://`` URL.

    Raises:
        InvalidInputError: the URL's protocol is unknown or its package is missing.
    """
    scheme = urlsplit(url).scheme.lower()
    if scheme not in _SCHEMES and not (len(scheme) == 1 and url[1:2] == ":"):
        raise InvalidInputError(
            f"cannot open {scheme}:// URLs for an archive ({url!r})",
            hint="use a local path, file://DIR or s3://bucket/prefix",
        )  # checked before fsspec, so nothing is looked up on the network
    try:
        from fsspec.core import url_to_fs
    except ImportError as err:
        raise InvalidInputError(
            "remote archives need fsspec", hint="pip install 'rl-runbook[s3]'"
        ) from err
    try:
        # Fresh instance, no listing cache: a verify must see the store as it is now.
        fs, root = url_to_fs(url, skip_instance_cache=True, use_listings_cache=False)
    except (ImportError, ValueError) as err:
        raise InvalidInputError(
            f"cannot open {url}: {err}",
            hint="use a local path, file://... or s3://bucket/prefix "
            "(s3 needs: pip install 'rl-runbook[s3]')",
        ) from err
    return fs, str(root).rstrip("/")


def _is_s3(fs: Any) -> bool:
    protocols = fs.protocol if isinstance(fs.protocol, tuple | list) else (fs.protocol,)
    return "s3" in protocols


def hash_remote(fs: Any, path: str) -> str:
    """The sha256 of a remote object, streamed in chunks."""
    digest = hashlib.sha256()
    with fs.open(path, "rb", block_size=_CHUNK) as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _holds(fs: Any, path: str, size: int, sha256: str) -> bool:
    """Whether the object exists with exactly these bytes (size first: it is cheap)."""
    try:
        if int(fs.size(path)) != size:
            return False
    except FileNotFoundError:
        return False
    return hash_remote(fs, path) == sha256


def _put_whole(fs: Any, local: Path, remote: str) -> None:
    if _is_s3(fs):
        fs.put_file(str(local), remote)  # an S3 object appears whole or not at all
        return
    parent, name = remote.rsplit("/", 1)
    partial = f"{parent}/.{name}.partial"
    fs.makedirs(parent, exist_ok=True)
    fs.put_file(str(local), partial)
    fs.mv(partial, remote)


def _pending_parts(fs: Any, bucket: str, key: str) -> tuple[str | None, dict[int, str]]:
    """The newest unfinished multipart upload of ``key`` and the ETag of each part it holds."""
    found = fs.call_s3("list_multipart_uploads", Bucket=bucket, Prefix=key).get("Uploads", [])
    uploads = sorted((u for u in found if u["Key"] == key), key=lambda u: u["Initiated"])
    if not uploads:
        return None, {}
    upload_id = str(uploads[-1]["UploadId"])
    parts: dict[int, str] = {}
    marker = 0
    while True:
        page = fs.call_s3(
            "list_parts", Bucket=bucket, Key=key, UploadId=upload_id, PartNumberMarker=marker
        )
        parts.update({int(p["PartNumber"]): str(p["ETag"]) for p in page.get("Parts", [])})
        if not page.get("IsTruncated"):
            return upload_id, parts
        marker = int(page["NextPartNumberMarker"])


def _put_multipart(fs: Any, local: Path, remote: str, part_size: int) -> bool:
    """Upload ``local`` in parts, reusing the parts of an unfinished upload; True if resumed."""
    bucket, key, _ = fs.split_path(remote)
    upload_id, held = _pending_parts(fs, bucket, key)
    resumed = upload_id is not None
    if upload_id is None:
        upload_id = fs.call_s3("create_multipart_upload", Bucket=bucket, Key=key)["UploadId"]
    parts = []
    with local.open("rb") as handle:
        for number, chunk in enumerate(iter(lambda: handle.read(part_size), b""), 1):
            etag = held.get(number, "")
            # A part's ETag is the MD5 of its bytes: a held part is kept only if it matches.
            if etag.strip('"') != hashlib.md5(chunk, usedforsecurity=False).hexdigest():
                etag = fs.call_s3(
                    "upload_part",
                    Bucket=bucket,
                    Key=key,
                    UploadId=upload_id,
                    PartNumber=number,
                    Body=chunk,
                )["ETag"]
            parts.append({"PartNumber": number, "ETag": etag})
    fs.call_s3(
        "complete_multipart_upload",
        Bucket=bucket,
        Key=key,
        UploadId=upload_id,
        MultipartUpload={"Parts": parts},
    )
    return resumed


def _push_file(
    fs: Any, local: Path, remote: str, sha256: str, *, part_size: int, report: PushReport
) -> None:
    size = local.stat().st_size
    if _holds(fs, remote, size, sha256):
        report.skipped.append(remote)
        return
    if _is_s3(fs) and size > part_size:
        if _put_multipart(fs, local, remote, part_size):
            report.resumed.append(remote)
    else:
        _put_whole(fs, local, remote)
    actual = hash_remote(fs, remote)
    if actual != sha256:
        raise CheckFailedError(
            f"uploaded {local.name} to {remote} but it hashes {actual[:12]}, not "
            f"{sha256[:12]} as sealed",
            hint="the store changed it or the upload broke; push again",
        )
    report.uploaded.append(remote)
    report.bytes_uploaded += size


def _existing_incident(archive_dir: Path, incident_id: str) -> Path:
    from runbook_lib.incident.store import incident_dir

    directory = incident_dir(archive_dir, incident_id)
    if not directory.is_dir():
        raise InvalidInputError(
            f"no incident {incident_id} in {archive_dir}", hint="'runbook archive list' shows them"
        )
    return directory


def _sealed_local(directory: Path, archive_dir: Path) -> tuple[dict[str, Any], str]:
    """The incident's manifest and its hash, once the incident verifies locally."""
    incident_id = directory.name
    report = verify_incident(archive_dir, directory)
    if not report.ok:
        raise CheckFailedError(
            f"{incident_id} does not verify locally ({report.problems[0]}); refusing to push it",
            hint=f"'runbook archive verify {incident_id}' names every problem",
        )
    manifest = read_manifest(directory)
    if manifest is None:  # verify_incident reports a missing manifest; this is a race
        raise WorkspaceError(f"{incident_id} lost its manifest during the push", hint="retry")
    return manifest, sha256_file(directory / MANIFEST)


def push_incident(
    archive_dir: Path, incident_id: str, url: str, *, part_size: int = DEFAULT_PART_SIZE
) -> PushReport:
    """Copy a sealed incident to ``url/<ID>/``, then verify the remote copy.

    The incident must verify locally first; its run lock is held meanwhile so
    that no run reseals it halfway. Objects already holding the sealed bytes
    are skipped; on S3, files over ``part_size`` go up in parts and an
    unfinished upload is resumed.

    Args:
        archive_dir: The local archive.
        incident_id: The incident to push.
        url: Destination: a directory, ``file://...`` or ``s3://bucket/prefix``.
        part_size: Multipart part size in bytes (at least 5 MiB).

    Raises:
        InvalidInputError: bad ID, URL or part size.
        CheckFailedError: the local incident does not verify, or an upload hashes wrong.
    """
    if part_size < MIN_PART_SIZE:
        raise InvalidInputError(
            f"part size {part_size} is below S3's minimum of {MIN_PART_SIZE} bytes",
            hint="use at least 5 MiB",
        )
    directory = _existing_incident(archive_dir, incident_id)
    fs, root = open_url(url)
    report = PushReport(incident=incident_id, url=url)
    with run_lock(directory, _PUSH_LOCK_TIMEOUT):
        manifest, manifest_sha = _sealed_local(directory, archive_dir)
        base = f"{root}/{incident_id}"
        try:
            for name, entry in sorted(manifest["files"].items()):
                _push_file(
                    fs,
                    directory / name,
                    f"{base}/{name}",
                    str(entry["sha256"]),
                    part_size=part_size,
                    report=report,
                )
            if (directory / SEAL_PROOF).is_file():  # its signature and proof in the log
                _push_file(
                    fs,
                    directory / SEAL_PROOF,
                    f"{base}/{SEAL_PROOF}",
                    sha256_file(directory / SEAL_PROOF),
                    part_size=part_size,
                    report=report,
                )
            # Last: a remote manifest means every object it names went up before it.
            _push_file(
                fs,
                directory / MANIFEST,
                f"{base}/{MANIFEST}",
                manifest_sha,
                part_size=part_size,
                report=report,
            )
        except (OSError, PermissionError) as err:
            raise WorkspaceError(
                f"push of {incident_id} to {url} stopped: {err}",
                hint="check the bucket exists and the credentials; run the push again to resume it",
            ) from err
    report.verify = verify_remote(url, incident_id, archive_dir)
    return report


def _anchor(archive_dir: Path | None, incident_id: str) -> str | None:
    """The manifest hash sealed in the local index, if there is one."""
    if archive_dir is None or not index.index_path(archive_dir).is_file():
        return None
    rows = index.query(
        archive_dir, "SELECT manifest_sha256 FROM seals WHERE incident = ?", (incident_id,)
    )
    return str(rows[0]["manifest_sha256"]) if rows else None


def _check_chain(fs: Any, base: str, manifest: Mapping[str, Any], report: VerifyReport) -> None:
    path = f"{base}/{CHAIN.as_posix()}"
    if not fs.exists(path):
        return  # named as missing by the file comparison when the manifest lists it
    lines = fs.cat_file(path).splitlines()
    try:
        chain = [json.loads(line) for line in lines if line]
    except ValueError:
        report.problems.append(f"chain: {CHAIN.as_posix()} is no longer JSON lines")
        return
    report.runs_checked = len(chain)
    report.problems += verify_chain(chain)
    head = chain[-1].get("hash") if chain else GENESIS
    if manifest.get("chain_head") != head:
        report.problems.append("chain: the last run does not match the sealed chain head")


def verify_remote(
    url: str,
    incident_id: str,
    archive_dir: Path | None = None,
    trusted: Ed25519PublicKey | None = None,
) -> VerifyReport:
    """Hash every object of ``url/<ID>/`` and compare it with the pushed manifest.

    Names every object modified, missing or added, and every broken chain link.
    The remote manifest itself is proven by the pushed signature (by ``trusted``
    when given) and inclusion proof, and compared with the seal in the local
    index of ``archive_dir`` when there is one (:func:`.remote_seal.check_seal`).
    """
    from runbook_lib.incident.model import validate_incident_id

    fs, root = open_url(url)
    base = f"{root}/{validate_incident_id(incident_id)}"
    report = VerifyReport(incident=incident_id)
    manifest_path = f"{base}/{MANIFEST}"
    if not fs.exists(manifest_path):
        report.problems.append(f"missing: {MANIFEST} (no finished push of {incident_id} at {url})")
        return report
    data = bytes(fs.cat_file(manifest_path))
    check_seal(
        fs, base, data, anchor=_anchor(archive_dir, incident_id), trusted=trusted, report=report
    )
    manifest = parse_manifest(data, report)
    if manifest is None:
        return report
    actual = {path[len(base) + 1 :]: path for path in fs.find(base)}
    for name in SEAL_FILES:  # the earlier layout's too: check_seal named them
        actual.pop(name, None)
    recorded: dict[str, Any] = manifest["files"]
    report.files_checked = len(actual)
    report.problems += [f"missing: {name}" for name in sorted(recorded.keys() - actual.keys())]
    report.problems += [f"added: {name}" for name in sorted(actual.keys() - recorded.keys())]
    for name in sorted(recorded.keys() & actual.keys()):
        if hash_remote(fs, actual[name]) != recorded[name].get("sha256"):
            report.problems.append(f"modified: {name}")
    _check_chain(fs, base, manifest, report)
    report.problems += [
        f"earlier: {problem} (found {finding.get('found_at')}, kept through a reseal)"
        for finding in manifest.get("findings", [])
        for problem in finding.get("problems", [])
    ]
    return report
