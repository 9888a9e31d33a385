"""The runbook's one temp-then-rename writer: :class:`DurableGroup`.

A file is replaced by writing a temporary next to it, flushing that to disk
and renaming it over the file; a crash leaves the old content or the new one,
never half of it. :mod:`runbook_lib.base.fsutil` builds its ``atomic_write_*``
helpers on it.
"""

from __future__ import annotations

import contextlib
import functools
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

# Where the platform has it, a read opens the file itself, never what a final link names.
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_TEMP_FLAGS = os.O_RDWR | os.O_CREAT | os.O_EXCL | _NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


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


def temporary_of(name: str) -> str | None:
    """The file a temporary ``name`` (``.{file}.{12 hex}.tmp``) is to replace, else ``None``."""
    if not (name.startswith(".") and name.endswith(".tmp")) or len(name) < 19:
        return None
    stem, suffix = name[1:-17], name[-17:-4]
    hexpart = suffix[1:]
    if suffix[0] != "." or not stem or not all(c in "0123456789abcdef" for c in hexpart):
        return None
    return stem


def _temp_beside(path: Path, mode: int | None) -> tuple[Path, int]:
    """A new empty temporary file next to ``path``, still open; the one temporary every write uses.

    Its mode is ``mode``, else ``path``'s, else 0o644. Returns its path and descriptor.
    """
    if mode is None:
        mode = path.stat().st_mode & 0o7777 if path.exists() else 0o644
    fd, tmp_name = _mkstemp(path.parent, f".{path.name}.", ".tmp")
    try:
        os.fchmod(fd, mode)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    return Path(tmp_name), fd


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


class _Flush:
    """One flush (of a file or a directory) on a flusher thread; :meth:`wait` gives its error."""

    def __init__(self, flush: Callable[[], None]) -> None:
        self.flush = flush
        self.error: BaseException | None = None
        self._done = threading.Event()

    def run(self) -> None:
        """Flush, keeping any error for the waiter (call :meth:`finish` next)."""
        try:
            self.flush()
        except BaseException as err:  # handed to the waiter, whatever it is
            self.error = err

    def finish(self) -> None:
        """Let the waiter go."""
        self._done.set()

    def wait(self) -> BaseException | None:
        """Wait for the flush; its error, if any."""
        self._done.wait()
        return self.error


class _Flusher:
    """A flusher thread's state: the job it is to run and the lock it sleeps on."""

    def __init__(self, job: _Flush) -> None:
        self.job: _Flush | None = job
        self.wake = threading.Lock()
        self.wake.acquire()  # released when a job is handed over


class _Flushers:
    """Daemon threads kept for the process, each flushing one file at a time on request.

    A flush goes to an idle one; another is started only when all are busy,
    so files handed over together are flushed side by side, and a seal after
    the first starts no thread (a thread's start waits for it to run: on a
    busy machine that alone cost a seal most of a millisecond). A forked
    child starts with none.
    """

    def __init__(self) -> None:
        self._reset()
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=self._reset)

    def _reset(self) -> None:
        self._lock = threading.Lock()
        self._idle: list[_Flusher] = []

    def submit(self, fd: int) -> _Flush:
        """Start flushing the file ``fd`` on a flusher thread."""
        return self.submit_call(functools.partial(os.fsync, fd))

    def submit_call(self, flush: Callable[[], None]) -> _Flush:
        """Start ``flush`` on a flusher thread."""
        job = _Flush(flush)
        with self._lock:
            flusher = self._idle.pop() if self._idle else None
        if flusher is not None:
            flusher.job = job
            flusher.wake.release()
            return job
        try:
            threading.Thread(
                target=self._work, args=(_Flusher(job),), name="runbook-flush", daemon=True
            ).start()
        except RuntimeError:  # no thread to be had: flush it here
            job.run()
            job.finish()
        return job

    def _work(self, flusher: _Flusher) -> None:
        while True:
            job, flusher.job = flusher.job, None
            if job is not None:
                job.run()
            with self._lock:
                self._idle.append(flusher)
            if job is not None:
                job.finish()  # once idle again: the waiter's next flush finds this thread
            flusher.wake.acquire()


_FLUSHERS = _Flushers()


def _fsync_all(fds: Sequence[int]) -> None:
    """Flush every descriptor's file to disk, side by side.

    Each flush is a real ``fsync`` of its file: the first on the calling
    thread, the others on flusher threads at the same time (an ``fsync``
    waits on the disk without holding the interpreter), so that a journaling
    file system can commit them together instead of one disk wait after another.
    """
    _raise_first([_FLUSHERS.submit(fd) for fd in fds[1:]], fds[:1])


def _raise_first(jobs: Sequence[_Flush], here: Sequence[int] = ()) -> None:
    """Flush ``here`` on this thread, wait for every job, then raise the first error met."""
    errors: list[BaseException] = []
    for fd in here:
        try:
            os.fsync(fd)
        except OSError as err:
            errors.append(err)
    errors += [error for error in (job.wait() for job in jobs) if error is not None]
    if errors:
        raise errors[0]


def _fsync_dirs(directories: Sequence[Path]) -> None:
    """Flush each directory's entries (:func:`fsync_dir`), side by side as files are flushed."""
    jobs = [_FLUSHERS.submit_call(functools.partial(_fsync_dir, d)) for d in directories[1:]]
    here: OSError | None = None
    try:
        for directory in directories[:1]:
            fsync_dir(directory)
    except OSError as err:
        here = err
    _raise_first(jobs)  # waits for every other directory first
    if here is not None:
        raise here


def _fsync_dir(directory: Path) -> None:
    fsync_dir(directory)  # looked up when called: a test may watch it


class _Temp:
    """One file of a :class:`DurableGroup`: its temporary, descriptor and destination."""

    def __init__(self, path: Path, mode: int | None) -> None:
        self.path = path
        self.tmp, self.fd = _temp_beside(path, mode)
        self.handle: BinaryIO | None = None
        self.flushed = False


class DurableGroup:
    """Files replaced together through temporaries and renames, each directory flushed once.

    The one temp-then-rename writer of the runbook (:func:`atomic_write_bytes`,
    :func:`atomic_write_many` and :func:`atomic_writer` are made of it). Each
    :meth:`add` (or :meth:`open`) writes a temporary next to its file; leaving
    the ``with`` block without an error commits: every temporary is flushed to
    disk, renamed over its file in the order added, the :meth:`remove` paths
    deleted, and each directory touched flushed once. An error discards the
    temporaries and leaves every file as it was. Each file ends old or new,
    never half written; a crash during the renames may leave the first files
    renamed and the others not, as writing them one by one would.

    :meth:`flush_in_background` starts flushing the files added so far on
    flusher threads (side by side, each on its own), so that their disk waits overlap
    whatever the caller does before it adds the last file (a seal records
    itself in the index and the log).
    ``durable=False`` skips every flush (runtime state that means nothing
    after a reboot); the renames stay atomic.
    """

    def __init__(self, *, durable: bool = True) -> None:
        """An empty group; see the class."""
        self.durable = durable
        self._temps: list[_Temp] = []
        self._removed: list[Path] = []
        self._flushing: list[_Flush] = []

    def add(self, path: Path, data: bytes, *, mode: int | None = None) -> None:
        """Write ``data`` as the next content of ``path`` (mode: see :func:`atomic_write_bytes`)."""
        temp = _Temp(path, mode)
        self._temps.append(temp)
        _write_all(temp.fd, data)

    def adds(self, path: Path) -> bool:
        """Whether ``path`` is already one of the group's files."""
        return any(temp.path == path for temp in self._temps)

    def open(self, path: Path, *, mode: int | None = None) -> BinaryIO:
        """A binary file to write the next content of ``path`` into (closed by the commit)."""
        temp = _Temp(path, mode)
        self._temps.append(temp)
        temp.handle = os.fdopen(temp.fd, "wb", closefd=False)
        return temp.handle

    def remove(self, path: Path) -> None:
        """Delete ``path`` (if it is there) with the commit, its directory flushed."""
        self._removed.append(path)

    def flush_in_background(self) -> None:
        """Start flushing the files added so far to disk, side by side; the commit waits for it.

        Each file goes to a flusher thread of its own (:class:`_Flushers`), so
        that they wait on one journal commit together: one file more (a seal's
        signature) adds no disk wait.
        """
        self._flushing += [_FLUSHERS.submit(fd) for fd in self._pending()]

    def _pending(self) -> list[int]:
        fds = []
        for temp in self._temps:
            if temp.handle is not None:
                temp.handle.close()  # its descriptor stays open (closefd=False)
                temp.handle = None
            if not temp.flushed:
                temp.flushed = True
                fds.append(temp.fd)
        return fds if self.durable else []

    def _wait(self) -> None:
        jobs, self._flushing = self._flushing, []
        _raise_first(jobs)

    def commit(self) -> None:
        """Flush, rename, remove and flush each directory, as the class says."""
        try:
            rest = self._pending()
            try:
                _fsync_all(rest)
            finally:
                self._wait()
            for temp in self._temps:
                os.replace(temp.tmp, temp.path)
        except BaseException:
            self.discard()
            raise
        touched = [temp.path for temp in self._temps] + self._removed
        self._close()
        for path in self._removed:
            path.unlink(missing_ok=True)
        if self.durable:
            _fsync_dirs(list(dict.fromkeys(path.parent for path in touched)))

    def discard(self) -> None:
        """Delete every temporary; no file is changed."""
        with contextlib.suppress(OSError):
            self._wait()
        for temp in self._temps:
            with contextlib.suppress(FileNotFoundError):
                temp.tmp.unlink()
        self._close()

    def _close(self) -> None:
        for temp in self._temps:
            if temp.handle is not None:
                with contextlib.suppress(OSError):
                    temp.handle.close()
            with contextlib.suppress(OSError):
                os.close(temp.fd)
        self._temps = []

    def __enter__(self) -> DurableGroup:
        """The group; it commits when the block ends without an error."""
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        """Commit, or discard after an error."""
        if kind is None:
            self.commit()
        else:
            self.discard()
