"""File-system helpers: atomic writes and hashing.

Every file the runbook writes goes through one temp-then-rename writer
(:class:`DurableGroup`, behind :func:`atomic_write_bytes`, :func:`atomic_write_many`
and :func:`atomic_writer`), so a crash leaves either the old content or the new
one, never half of it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

from runbook_lib.base.durable import DurableGroup
from runbook_lib.base.errors import InvalidInputError

_CHUNK = 1 << 20
# Where the platform has it, a read opens the file itself, never what a final link names.
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def sha256_bytes(data: bytes) -> str:
    """Return the hex sha256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    """Return the hex sha256 of the file at ``path``, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def confined(root: Path, path: Path, *, action: str = "write") -> Path:
    """Return ``path`` unchanged once its real location is known to be inside ``root``.

    Every component from ``root`` down is checked, so a directory link on the
    way is named as precisely as a final one.

    Raises:
        InvalidInputError: a symbolic link takes ``path`` out of ``root``; the
            one-line message names the link and where it points.
    """
    real_root = root.resolve()
    try:
        parts = path.relative_to(root).parts
    except ValueError:
        parts = ()
        if not path.resolve().is_relative_to(real_root):
            raise InvalidInputError(
                f"{path} is outside the target {real_root}; refusing to {action} it"
            ) from None
    probe = root
    for part in parts:
        probe = probe / part
        if probe.is_symlink() and not probe.resolve().is_relative_to(real_root):
            raise InvalidInputError(
                f"{probe} is a symlink to {os.readlink(probe)} ({probe.resolve()}), outside "
                f"the target {real_root}; refusing to {action} through it",
                hint="replace the link with a real directory or file inside the target",
            )
    return path


def read_nofollow(path: Path) -> bytes:
    """Read ``path`` without following a final symbolic link.

    Raises:
        InvalidInputError: ``path`` is a symbolic link (named, with where it points).
    """
    try:
        fd = os.open(path, os.O_RDONLY | _NOFOLLOW)
    except OSError as err:
        if path.is_symlink():
            raise InvalidInputError(
                f"{path} is a symlink to {os.readlink(path)}; refusing to follow it",
                hint="replace the link with the file itself",
            ) from err
        raise
    with os.fdopen(fd, "rb") as handle:
        return handle.read()


def atomic_write_many(files: Sequence[tuple[Path, bytes]], *, remove: Sequence[Path] = ()) -> None:
    """Write several files as :func:`atomic_write_bytes` does, with one flush per directory.

    All temporaries are flushed to disk (side by side) before any is renamed;
    see :class:`DurableGroup`. Modes are kept as :func:`atomic_write_bytes` keeps them.
    """
    with DurableGroup() as group:
        for path, data in files:
            group.add(path, data)
        for path in remove:
            group.remove(path)


@contextlib.contextmanager
def atomic_writer(
    path: Path, *, mode: int | None = None, within: Path | None = None, durable: bool = True
) -> Iterator[BinaryIO]:
    """A binary file whose content replaces ``path`` atomically when the block ends.

    For content made by a library that writes to a file (a tar archive, an
    image). An error in the block leaves ``path`` as it was. Arguments as
    :func:`atomic_write_bytes`.
    """
    if within is not None:
        confined(within, path)
    with DurableGroup(durable=durable) as group:
        yield group.open(path, mode=mode)


def atomic_write_bytes(
    path: Path,
    data: bytes,
    *,
    mode: int | None = None,
    within: Path | None = None,
    durable: bool = True,
) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename.

    The rename replaces a final symbolic link itself, never the file it names.

    Args:
        path: Destination file; its parent directory must exist.
        data: The complete new content.
        mode: Permission bits for the new file; by default those of the file
            being replaced, or 0o644 for a new file.
        within: When given, refuse (see :func:`confined`) a ``path`` whose
            parent directories lead outside this root through a link.
        durable: Flush the file and its directory to disk (the default). Only
            runtime state that means nothing after a reboot (a lock's holder,
            whose process a reboot ends) skips it; the rename stays atomic.
    """
    if within is not None:
        confined(within, path)
    with DurableGroup(durable=durable) as group:
        group.add(path, data, mode=mode)


def atomic_write_text(
    path: Path,
    text: str,
    *,
    mode: int | None = None,
    within: Path | None = None,
    durable: bool = True,
) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically; see :func:`atomic_write_bytes`."""
    atomic_write_bytes(path, text.encode("utf-8"), mode=mode, within=within, durable=durable)


def iter_files(root: Path, *, skip_dirs: frozenset[str] = frozenset()) -> Iterator[Path]:
    """Yield every regular file under ``root`` in a stable order, skipping ``skip_dirs`` names."""
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in skip_dirs)
        for name in sorted(filenames):
            yield Path(dirpath) / name


def tree_hash(
    root: Path,
    *,
    skip_dirs: frozenset[str] = frozenset({".git"}),
    skip_files: frozenset[str] = frozenset(),
) -> str:
    """Hash every file under ``root`` (paths, modes and contents) into one sha256.

    Tracked and untracked files count alike; only directories named in
    ``skip_dirs`` and the relative paths in ``skip_files`` are left out.
    """
    digest = hashlib.sha256()
    for path in iter_files(root, skip_dirs=skip_dirs):
        rel = path.relative_to(root).as_posix()
        if rel in skip_files:
            continue
        content = f"symlink:{os.readlink(path)}" if path.is_symlink() else sha256_file(path)
        executable = os.access(path, os.X_OK)
        digest.update(f"{rel}\0{int(executable)}\0{content}\n".encode())
    return digest.hexdigest()


# Runtime state, not content: git's own data, bytecode caches, service pid and
# state files, the target lock (whose file outlives every holder), the file that
# keeps .runbook/ out of the target's git, and the crash tests' marker.
_RUNTIME_DIRS = frozenset({".git", "__pycache__", ".pytest_cache", ".run"})
_RUNTIME_FILES = frozenset(
    {".runbook/lock", ".runbook/lock.json", ".runbook/.gitignore", ".runbook/crashpoints-test-only"}
)


def workspace_hash(root: Path) -> str:
    """Hash a target's content: every file, tracked or not, but runtime state.

    Two workspaces with the same hash hold the same files with the same bytes
    and modes; pid files, bytecode caches and lock files do not count.
    """
    return tree_hash(root, skip_dirs=_RUNTIME_DIRS, skip_files=_RUNTIME_FILES)
