"""Apply, revert and inspect a step's file changes, one atomic file at a time.

Contents live in a content-addressed :class:`BlobStore` in the incident
directory: the plan's ``after`` contents when it is saved, each file's
``before`` content just before it is overwritten. Any file is therefore always
exactly in its before or its after state, and both can be restored.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from runbook_lib.base import crashpoints
from runbook_lib.base.durable import DurableGroup
from runbook_lib.base.errors import InvalidInputError, StalePlanError, WorkspaceError
from runbook_lib.base.fsutil import (
    atomic_write_bytes,
    confined,
    read_nofollow,
    sha256_bytes,
)
from runbook_lib.rollback.actions.model import FileChange


class BlobStore:
    """Content-addressed file store: ``root/<sha[:2]>/<sha>``."""

    def __init__(self, root: Path) -> None:
        """Use (and create on first write) the directory ``root``."""
        self.root = root

    def _path(self, digest: str) -> Path:
        return self.root / digest[:2] / digest

    def has(self, digest: str) -> bool:
        """Tell whether the store holds ``digest``."""
        return self._path(digest).is_file()

    def put(self, data: bytes) -> str:
        """Store ``data`` (once) and return its sha256."""
        with DurableGroup() as group:
            return self.put_into(group, data)

    def put_into(self, group: DurableGroup, data: bytes) -> str:
        """Store ``data`` (once) with ``group``'s commit; return its sha256."""
        digest = sha256_bytes(data)
        path = self._path(digest)
        if not path.is_file() and not group.adds(path):
            path.parent.mkdir(parents=True, exist_ok=True)
            group.add(path, data, mode=0o444)
        return digest

    def get(self, digest: str) -> bytes:
        """Return the content of ``digest``, checked against its hash.

        Raises:
            WorkspaceError: the blob is missing or its content does not match.
        """
        path = self._path(digest)
        if not path.is_file():
            raise WorkspaceError(f"blob {digest[:12]} is missing from {self.root}")
        data = path.read_bytes()
        if sha256_bytes(data) != digest:
            raise WorkspaceError(f"blob {path} is corrupted (its sha256 no longer matches)")
        return data


def resolve(root: Path, relative: str) -> Path:
    """Return ``root/relative``, refusing absolute paths, ``..`` and links out of ``root``.

    Raises:
        InvalidInputError: the path is not relative, or a symbolic link on it
            leads outside the target (the message names the link and its target).
    """
    posix = PurePosixPath(relative)
    if posix.is_absolute() or ".." in posix.parts or not posix.parts:
        raise InvalidInputError(f"path {relative!r} must be relative to the target, without '..'")
    return confined(root, root.joinpath(*posix.parts))


def read_current(root: Path, relative: str) -> bytes | None:
    """A target file's bytes (a final link is not followed), or ``None`` when it is absent."""
    path = resolve(root, relative)
    return read_nofollow(path) if path.is_file() or path.is_symlink() else None


def current_hash(root: Path, relative: str) -> str | None:
    """The sha256 of a target file, or ``None`` when it does not exist."""
    data = read_current(root, relative)
    return None if data is None else sha256_bytes(data)


def state_of(root: Path, change: FileChange) -> str:
    """``before``, ``after`` or ``other``: where a file stands against its change."""
    digest = current_hash(root, change.path)
    if digest == change.after:
        return "after"
    return "before" if digest == change.before else "other"


def _write(root: Path, relative: str, digest: str | None, store: BlobStore) -> None:
    path = resolve(root, relative)
    crashpoints.reach(f"write {relative}")
    if digest is None:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, store.get(digest), within=root)


def apply_changes(root: Path, changes: Iterable[FileChange], store: BlobStore) -> None:
    """Bring every file to its ``after`` state; files already there are skipped.

    Raises:
        StalePlanError: a file is in neither its before nor its after state.
    """
    for change in changes:
        state = state_of(root, change)
        if state == "after":
            continue
        if state == "other":
            raise StalePlanError(
                f"{change.path} changed since the plan was made",
                hint="make a new plan with 'runbook rollback plan'",
            )
        if change.before is not None:
            store.put(read_nofollow(resolve(root, change.path)))
        _write(root, change.path, change.after, store)


def revert_changes(root: Path, changes: Iterable[FileChange], store: BlobStore) -> None:
    """Bring every file back to its ``before`` state, in reverse order.

    Raises:
        WorkspaceError: a file was changed after the rollback (it is in neither
            state); nothing more is reverted and the message names the file.
    """
    for change in reversed(list(changes)):
        state = state_of(root, change)
        if state == "before":
            continue
        if state == "other":
            raise WorkspaceError(
                f"{change.path} was changed after the rollback; refusing to overwrite it",
                hint="save or discard that change, then run undo again",
            )
        _write(root, change.path, change.before, store)


def progress(root: Path, changes: Iterable[FileChange]) -> dict[str, int]:
    """Count the files in each state (``before``, ``after``, ``other``)."""
    counts = {"before": 0, "after": 0, "other": 0}
    for change in changes:
        counts[state_of(root, change)] += 1
    return counts
