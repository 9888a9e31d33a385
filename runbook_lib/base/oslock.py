"""OS file locks (``flock``) for one process at a time, with a timeout.

The runbook's locks (a target's, an incident's run lock, a journal's) are
``flock(2)`` locks on a lock file: the kernel drops them when their holder
dies, even by SIGKILL. This module is what the ``filelock`` package's Unix lock
does for the runbook, without its import cost (tens of milliseconds, paid by
every ``runbook rollback now``). Both take ``flock`` on the same file, so a
holder using either excludes the other.

A lock object is reentrant: acquiring it again while it holds the lock counts
up, and only the matching number of releases gives it back. Two objects on one
path exclude each other, even within one process.
"""

from __future__ import annotations

import fcntl
import os
import time
from types import TracebackType

_POLL_S = 0.05


class Timeout(TimeoutError):
    """The lock was held by someone else for the whole timeout."""

    def __init__(self, lock_file: str) -> None:
        super().__init__(f"the lock {lock_file} could not be acquired")
        self.lock_file = lock_file


def held_elsewhere(path: str | os.PathLike[str]) -> bool:
    """Whether someone holds the lock on ``path`` now (another process, or another object).

    Probes without waiting and gives the lock straight back; a missing lock file
    is a lock nobody holds, and the probe does not create it.
    """
    if not os.path.exists(path):
        return False
    probe = FileLock(path, blocking=False)
    try:
        probe.acquire()
    except Timeout:
        return True
    probe.release(force=True)
    return False


class FileLock:
    """An exclusive ``flock`` on ``path``; ``timeout`` < 0 waits forever, 0 tries once."""

    def __init__(
        self, path: str | os.PathLike[str], timeout: float = -1, *, blocking: bool = True
    ) -> None:
        self.lock_file = os.fspath(path)
        self.timeout = timeout if blocking else 0.0
        self._fd: int | None = None
        self._count = 0

    @property
    def is_locked(self) -> bool:
        """Whether this object holds the lock."""
        return self._fd is not None

    def _try(self) -> bool:
        fd = os.open(self.lock_file, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        # A holder that removes its lock file on release may have unlinked this inode
        # meanwhile: a lock on it would exclude nobody, so take the file there is now.
        try:
            current = os.stat(self.lock_file)
        except FileNotFoundError:
            current = None
        if current is None or not os.path.samestat(os.fstat(fd), current):
            os.close(fd)
            return self._try()
        self._fd = fd
        return True

    def acquire(self, timeout: float | None = None) -> FileLock:
        """Take the lock, waiting up to ``timeout`` (default: the object's) seconds.

        Raises:
            Timeout: someone else held it for the whole timeout.
        """
        if self._fd is not None:
            self._count += 1
            return self
        wait = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + wait
        while not self._try():
            if wait >= 0 and time.monotonic() >= deadline:
                raise Timeout(self.lock_file)
            time.sleep(_POLL_S)
        self._count = 1
        return self

    def release(self, *, force: bool = False) -> None:
        """Give one acquisition back (all of them with ``force``); the file stays."""
        if self._fd is None:
            return
        self._count = 0 if force else self._count - 1
        if self._count > 0:
            return
        fd, self._fd = self._fd, None
        try:
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def __enter__(self) -> FileLock:
        return self.acquire()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release()
