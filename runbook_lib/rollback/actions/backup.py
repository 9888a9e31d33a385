"""Seed 003 step 5 and recovery step 2: restore configs and models from a verified backup.

A backup directory holds files at the paths they have in the target, plus a
``SHA256SUMS`` manifest. The backup is verified file by file before the plan
is made and again before the first file is written: a flipped byte, a
truncated or a missing file refuses the restore (seed 003's "backup may be
outdated or corrupted" risk). Each file is then replaced atomically.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from fnmatch import fnmatch
from pathlib import Path
from typing import Any, ClassVar

from runbook_lib.base.errors import InvalidInputError
from runbook_lib.base.fsutil import confined, read_nofollow
from runbook_lib.rollback.actions.base import Action, Context, file_change
from runbook_lib.rollback.actions.files import apply_changes
from runbook_lib.rollback.actions.model import FileChange, Step
from runbook_lib.target.checksums import parse_sha256sums, verify_directory


def latest_backup(backups: Path) -> Path:
    """The newest backup: the last subdirectory in name order (names are timestamps).

    Raises:
        InvalidInputError: there is no backup directory or no backup in it.
    """
    found = sorted(p for p in backups.iterdir() if p.is_dir()) if backups.is_dir() else []
    if not found:
        raise InvalidInputError(
            f"no backup in {backups}",
            hint="seed 003 needs a verified backup of configs and models to restore",
        )
    return found[-1]


def refuse_links(root: Path, directory: Path) -> None:
    """Refuse a backup that is, or holds, a symbolic link (checked before any write).

    A link would make the restore copy whatever it names (``/etc/hostname``)
    into the target once its checksum was recomputed.

    Raises:
        InvalidInputError: naming the link and where it points.
    """
    confined(root, directory, action="restore from")
    if directory.is_symlink():
        raise InvalidInputError(
            f"backup {directory} is a symlink to {os.readlink(directory)}; refusing to restore "
            "from it",
            hint="nothing was changed; keep backups as real directories inside the target",
        )
    for dirpath, dirnames, filenames in os.walk(directory):
        for name in sorted([*dirnames, *filenames]):
            entry = Path(dirpath) / name
            if entry.is_symlink():
                raise InvalidInputError(
                    f"backup {directory}: {entry} is a symlink to {os.readlink(entry)}; "
                    "refusing to restore from a backup that holds links",
                    hint="nothing was changed; replace the link with the file it stands for",
                )


def _verified(directory: Path, checksum_file: str) -> dict[str, str]:
    report = verify_directory(directory, checksum_file)
    if not report.passed:
        raise InvalidInputError(
            f"backup {directory} failed verification, refusing to restore from it: "
            + "; ".join(report.problems()),
            hint="nothing was changed; restore the backup from another copy first "
            "('runbook verify --checks integrity' lists each file)",
        )
    return parse_sha256sums((directory / checksum_file).read_text(encoding="utf-8"))


class BackupRestoreAction(Action):
    """Restore every file a backup lists, after verifying the backup."""

    name: ClassVar[str] = "backup-restore"

    def __init__(
        self,
        backups_dir: str,
        checksum_file: str = "SHA256SUMS",
        backup: str | None = None,
        exclude: tuple[str, ...] = (),
    ) -> None:
        """Restore ``backup`` (default: the newest) of ``backups_dir``, checked by its sums.

        ``exclude``: globs (relative to the root) of backed-up files this restore
        leaves alone; seed 003's code rollback restores the configuration, not the models.
        """
        self.backups_dir = backups_dir
        self.checksum_file = checksum_file
        self.backup = backup
        self.exclude = exclude

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> BackupRestoreAction:
        """Rebuild from a step's params (the backup chosen at plan time)."""
        exclude = tuple(str(glob) for glob in params.get("exclude", ()))
        return cls(
            str(params["backups_dir"]), str(params["checksum_file"]), str(params["backup"]), exclude
        )

    def params(self) -> dict[str, Any]:
        """What :meth:`from_params` needs."""
        return {
            "backups_dir": self.backups_dir,
            "checksum_file": self.checksum_file,
            "backup": self.backup,
            "exclude": list(self.exclude),
        }

    def _restored(self, entries: Mapping[str, str]) -> list[str]:
        return sorted(p for p in entries if not any(fnmatch(p, glob) for glob in self.exclude))

    def _directory(self, root: Path) -> Path:
        backups = root / self.backups_dir
        return backups / self.backup if self.backup else latest_backup(backups)

    def plan(self, root: Path) -> Step:
        """Verify the backup and list the files it restores."""
        directory = self._directory(root)
        refuse_links(root, directory)
        entries = _verified(directory, self.checksum_file)
        label = directory.relative_to(root).as_posix()
        restored = self._restored(entries)
        blobs: dict[str, bytes] = {}
        changes: list[FileChange] = []
        for relative in restored:
            content = read_nofollow(directory / relative)
            change = file_change(root, relative, content, f"from {label} (sha256 verified)", blobs)
            if change:
                changes.append(change)
        params = {**self.params(), "backup": directory.name}
        return Step(
            action=self.name,
            title=f"restore {len(restored)} files from {label}",
            changes=tuple(changes),
            commands=(
                f"(cd {label} && sha256sum -c {self.checksum_file})",
                *(f"cp {label}/{c.path} {c.path}" for c in changes),
            ),
            params=params,
            blobs=blobs,
        )

    def apply(self, step: Step, ctx: Context) -> None:
        """Verify the backup again, then replace each file atomically."""
        directory = self._directory(ctx.root)
        refuse_links(ctx.root, directory)
        _verified(directory, self.checksum_file)
        apply_changes(ctx.root, step.changes, ctx.store)
