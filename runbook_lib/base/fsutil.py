"""File-system helpers: atomic writes and hashing.

Every file the runbook writes goes through :func:`atomic_write_bytes`, so a
crash leaves either the old content or the new one, never half of it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

from runbook_lib.base.errors import InvalidInputError

_CHUNK = 1 << 20
# Where the platform has it, a read opens the file itself, never what a final link names.
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_TEMP_FLAGS = os.O_RDWR | os.O_CREAT | os.O_EXCL | _NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
_TEMP_FLAGS = os.O_RDWR | os.O_CREAT | os.O_EXCL | _NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


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


def fsync_dir(path: Path) -> None:
    """Flush a directory entry so that a rename inside it survives a crash."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _mkstemp(directory: Path, prefix: str, suffix: str) -> tuple[int, str]:
    """``tempfile.mkstemp``: a new file only this process can read, created exclusively.

    :mod:`tempfile` imports :mod:`shutil`, :mod:`random` and the compression
    modules, which every ``runbook rollback now`` would pay for one name.
    """
    for _ in range(100):
        name = os.path.join(directory, f"{prefix}{os.urandom(6).hex()}{suffix}")
        try:
            return os.open(name, _TEMP_FLAGS, 0o600), name
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name in {directory}")


def _temp_beside(path: Path, data: bytes) -> tuple[Path, int]:
    """A new temporary file next to ``path`` holding ``data``, with ``path``'s mode; still open.

    Returns its path and its open descriptor (the caller flushes and closes it).
    """
    mode = path.stat().st_mode & 0o7777 if path.exists() else 0o644
    fd, tmp_name = _mkstemp(path.parent, f".{path.name}.", ".tmp")
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fchmod(fd, mode)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    return Path(tmp_name), fd


def _fsync_all(fds: Sequence[int]) -> None:
    """Flush every descriptor's file to disk, side by side.

    Each flush is a real ``fsync`` of its file; run in parallel threads (an
    ``fsync`` waits on the disk without holding the interpreter), a journaling
    file system can commit them together instead of one disk wait after another.
    """
    errors: list[OSError] = []

    def flush(fd: int) -> None:
        try:
            os.fsync(fd)
        except OSError as err:
            errors.append(err)

    helpers = [threading.Thread(target=flush, args=(fd,)) for fd in fds[1:]]
    for helper in helpers:
        helper.start()
    for fd in fds[:1]:
        flush(fd)
    for helper in helpers:
        helper.join()
    if errors:
        raise errors[0]


def atomic_write_many(files: Sequence[tuple[Path, bytes]], *, remove: Sequence[Path] = ()) -> None:
    """Write several files as :func:`atomic_write_bytes` does, with one flush per directory.

    Every file is written to a temporary next to it, all temporaries are
    flushed to disk (side by side), renamed over their files in the given
    order, the ``remove`` paths deleted, and then each directory touched is
    flushed once. Each file ends old or new, never half written, and once this
    returns all of it is on disk; a crash in the middle may leave the first
    files renamed and the others not, as writing them one by one would.
    Modes are kept as :func:`atomic_write_bytes` keeps them.
    """
    temps: list[tuple[Path, int]] = []
    try:
        for path, data in files:
            temps.append(_temp_beside(path, data))
        _fsync_all([fd for _tmp, fd in temps])
        for (tmp, _fd), (path, _data) in zip(temps, files, strict=True):
            os.replace(tmp, path)
    except BaseException:
        for tmp, _fd in temps:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
        raise
    finally:
        for _tmp, fd in temps:
            os.close(fd)
    for path in remove:
        path.unlink(missing_ok=True)
    for directory in dict.fromkeys(path.parent for path in [*(p for p, _ in files), *remove]):
        fsync_dir(directory)


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
    if mode is None:
        mode = path.stat().st_mode & 0o7777 if path.exists() else 0o644
    fd, tmp_name = _mkstemp(path.parent, f".{path.name}.", ".tmp")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    if durable:
        fsync_dir(path.parent)


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
