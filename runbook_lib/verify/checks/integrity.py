"""Data integrity against the backup manifest (seed 003 recovery step 2, "verify data integrity").

Two questions, both answered file by file:

* Is the backup intact? Every file its ``SHA256SUMS`` lists is there with the
  listed hash, and nothing else is (:func:`runbook_lib.target.checksums.verify_directory`).
* Does the workspace hold what was restored? Each listed file's copy in the
  target has the backup's hash. Before a rollback the release's files differ
  from the stable backup by design, so that half fails only when a restore is
  expected (``expect_restored``); otherwise the differences are reported.

The helpers here also give the other checks the stable model's hash.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runbook_lib.base.checknames import CheckName
from runbook_lib.base.errors import InvalidInputError
from runbook_lib.base.fsutil import sha256_file
from runbook_lib.base.report import CheckResult, Status, timed
from runbook_lib.rollback.actions.backup import latest_backup
from runbook_lib.target.checksums import parse_sha256sums, verify_directory
from runbook_lib.target.manifest import Manifest

NAME = CheckName.INTEGRITY


@dataclass(frozen=True)
class BackupListing:
    """A backup directory and the hashes its checksum file lists (empty when unreadable)."""

    directory: Path
    entries: dict[str, str]
    error: str | None = None


def find_backup(manifest: Manifest, backup: str | None = None) -> BackupListing:
    """The named (or latest) backup and the hashes its checksum file lists.

    Raises:
        InvalidInputError: the manifest has no ``[backups]``, there is no
            backup, or none named ``backup``.
    """
    if manifest.backups is None:
        raise InvalidInputError(
            f"{manifest.path} has no [backups] table", hint="describe the backups directory there"
        )
    backups = manifest.resolve(manifest.backups.dir)
    if backup is not None:
        directory = backups / backup
        if Path(backup).name != backup or backup in (".", "..") or not directory.is_dir():
            raise InvalidInputError(
                f"no backup {backup!r} in {backups}",
                hint="name a subdirectory of the backups directory",
            )
    else:
        directory = latest_backup(backups)
    manifest_file = directory / manifest.backups.checksum_file
    try:
        text = manifest_file.read_text(encoding="utf-8")
        return BackupListing(directory, parse_sha256sums(text, source=str(manifest_file)))
    except (OSError, UnicodeDecodeError, InvalidInputError) as err:
        return BackupListing(directory, {}, f"cannot read {manifest_file}: {err}")


def stable_models(manifest: Manifest) -> dict[str, str]:
    """``{path: sha256}`` of the backed-up models (backup entries matching ``[models] glob``)."""
    if manifest.models_glob is None:
        return {}
    try:
        listing = find_backup(manifest)
    except InvalidInputError:
        return {}
    return {
        path: sha
        for path, sha in listing.entries.items()
        if fnmatch.fnmatch(path, manifest.models_glob)
    }


def compare_workspace(root: Path, entries: dict[str, str]) -> list[dict[str, Any]]:
    """Each listed file's workspace copy against its backup hash.

    Returns:
        One row per file: path, ``match``/``differs``/``missing``, both hashes.
    """
    rows: list[dict[str, Any]] = []
    for path, expected in sorted(entries.items()):
        target = root / path
        actual = sha256_file(target) if target.is_file() else None
        status = "missing" if actual is None else "match" if actual == expected else "differs"
        rows.append(
            {"path": path, "status": status, "backup_sha256": expected, "workspace_sha256": actual}
        )
    return rows


def _mismatch_text(rows: list[dict[str, Any]]) -> str:
    return ", ".join(f"{row['path']} ({row['status']})" for row in rows if row["status"] != "match")


def check_integrity(
    manifest: Manifest, *, backup: str | None = None, expect_restored: bool = True
) -> CheckResult:
    """The backup verifies against its checksum file, and the workspace matches it.

    Args:
        manifest: The target.
        backup: A backup directory's name; default the latest.
        expect_restored: The backup's files should be in the workspace (after a
            rollback); when False, differing files are reported, not failed.
    """
    if manifest.backups is None:
        return CheckResult(NAME, "skip", "runbook.toml has no [backups]", blocking=False)
    with timed() as elapsed:
        try:
            listing = find_backup(manifest, backup)
        except InvalidInputError as err:
            return CheckResult(
                NAME, "fail", str(err), {"backups_dir": manifest.backups.dir}, elapsed()
            )
        report = verify_directory(listing.directory, manifest.backups.checksum_file)
        rows = compare_workspace(manifest.root, listing.entries)
    label = listing.directory.relative_to(manifest.root).as_posix()
    evidence = {
        "backup": label,
        "backup_verification": report.to_dict(),
        "workspace": rows,
        "expect_restored": expect_restored,
    }
    differing = [row for row in rows if row["status"] != "match"]
    status: Status = "pass"
    if not report.passed:
        status, summary = "fail", f"backup {label} is corrupted: " + "; ".join(report.problems())
    elif differing and expect_restored:
        status = "fail"
        summary = f"the workspace does not hold what {label} restores: {_mismatch_text(rows)}"
    elif differing:
        summary = (
            f"backup {label} verifies ({len(report.ok)} files); the workspace differs in "
            f"{_mismatch_text(rows)} (expected before a rollback)"
        )
    else:
        summary = f"backup {label} verifies and the workspace matches all {len(rows)} of its files"
    return CheckResult(NAME, status, summary, evidence, elapsed())
