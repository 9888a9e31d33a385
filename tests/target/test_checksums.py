"""SHA256SUMS: parse, write and verify, against the real sha256sum where it exists."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from runbook_lib.base.errors import InvalidInputError
from runbook_lib.base.fsutil import sha256_bytes
from runbook_lib.target.checksums import (
    ChecksumReport,
    format_sha256sums,
    parse_sha256sums,
    verify_directory,
    write_sha256sums,
)

HAS_SHA256SUM = shutil.which("sha256sum") is not None


@pytest.fixture
def backup(tmp_path: Path) -> Path:
    root = tmp_path / "20260301T090000Z"
    (root / "configs").mkdir(parents=True)
    (root / "models").mkdir()
    (root / "configs/sac_config.json").write_text('{"seed": 7}\n')
    (root / "models/sac_v1.zip").write_bytes(bytes(range(256)) * 40)
    write_sha256sums(root)
    return root


def test_written_manifest_is_sha256sum_format(backup: Path) -> None:
    lines = (backup / "SHA256SUMS").read_text().splitlines()
    digest = sha256_bytes(b'{"seed": 7}\n')
    assert lines == [f"{digest}  configs/sac_config.json", lines[1]]
    assert lines[1].endswith("  models/sac_v1.zip") and len(lines[1].split("  ")[0]) == 64


@pytest.mark.skipif(not HAS_SHA256SUM, reason="no sha256sum tool")
def test_sha256sum_accepts_our_manifest_and_we_accept_its(backup: Path) -> None:
    subprocess.run(["sha256sum", "-c", "--quiet", "SHA256SUMS"], cwd=backup, check=True)
    theirs = subprocess.run(
        ["sha256sum", "-b", "configs/sac_config.json", "models/sac_v1.zip"],
        cwd=backup,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert parse_sha256sums(theirs) == parse_sha256sums((backup / "SHA256SUMS").read_text())


def test_intact_backup_passes(backup: Path) -> None:
    report = verify_directory(backup)
    assert report.passed and report.ok == ("configs/sac_config.json", "models/sac_v1.zip")
    assert report.problems() == [] and report.to_check().status == "pass"


def test_flipped_byte_is_modified(backup: Path) -> None:
    model = backup / "models/sac_v1.zip"
    data = bytearray(model.read_bytes())
    data[len(data) // 2] ^= 0x01
    model.write_bytes(bytes(data))
    report = verify_directory(backup)
    assert report.modified == ("models/sac_v1.zip",) and not report.passed
    assert report.problems() == ["models/sac_v1.zip: FAILED (checksum mismatch)"]


def test_truncated_file_is_modified(backup: Path) -> None:
    config = backup / "configs/sac_config.json"
    config.write_bytes(config.read_bytes()[:5])
    assert verify_directory(backup).modified == ("configs/sac_config.json",)


def test_missing_and_unlisted_files(backup: Path) -> None:
    (backup / "configs/sac_config.json").unlink()
    (backup / "models/extra.zip").write_bytes(b"x")
    report = verify_directory(backup)
    assert report.missing == ("configs/sac_config.json",)
    assert report.unlisted == ("models/extra.zip",)
    assert report.ok == ("models/sac_v1.zip",)
    check = report.to_check()
    assert (
        check.status == "fail" and "missing" in check.summary and check.evidence["passed"] is False
    )


def test_missing_or_malformed_manifest_is_reported_not_raised(backup: Path) -> None:
    manifest = backup / "SHA256SUMS"
    manifest.write_text("not a checksum line\n")
    report = verify_directory(backup)
    assert not report.passed and report.manifest_error is not None
    assert "line 1 is not '<sha256>  <path>'" in report.manifest_error
    manifest.unlink()
    report = verify_directory(backup)
    assert not report.passed and "missing" in str(report.manifest_error)


def test_empty_manifest_does_not_pass(tmp_path: Path) -> None:
    (tmp_path / "SHA256SUMS").write_text("")
    report = verify_directory(tmp_path)
    assert not report.passed and report.problems() == ["SHA256SUMS lists no files"]


@pytest.mark.parametrize(
    ("line", "error"),
    [
        ("abc  file", "is not '<sha256>  <path>'"),
        (f"{'0' * 64}  /etc/passwd", "must be relative"),
        (f"{'0' * 64}  ../outside", "must be relative"),
        (f"{'0' * 64}  a/./b", "must be relative"),
        (f"{'0' * 64}  a\n{'1' * 64}  a", "listed twice"),
    ],
)
def test_parse_refuses_bad_lines(line: str, error: str) -> None:
    with pytest.raises(InvalidInputError, match=error):
        parse_sha256sums(line + "\n", source="backups/x/SHA256SUMS")


def test_parse_reads_binary_marker_and_uppercase() -> None:
    assert parse_sha256sums(f"{'AB' * 32} *models/m.zip\n\n") == {"models/m.zip": "ab" * 32}


def test_format_round_trips() -> None:
    entries = {"b": "1" * 64, "a/c": "2" * 64}
    text = format_sha256sums(entries)
    assert text.splitlines()[0].endswith("  a/c")
    assert parse_sha256sums(text) == entries


def test_verify_refuses_a_file(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    with pytest.raises(InvalidInputError, match="not a directory"):
        verify_directory(tmp_path / "f")


def test_report_serializes(backup: Path) -> None:
    data = verify_directory(backup).to_dict()
    assert data["passed"] is True and data["ok"] == ("configs/sac_config.json", "models/sac_v1.zip")
    assert ChecksumReport(**{k: v for k, v in data.items() if k != "passed"}).passed
