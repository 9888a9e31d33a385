"""One lock per target, so that only one runbook process changes a target at a time.

The lock is an OS file lock (``flock``, :mod:`runbook_lib.base.oslock`) on
``<target>/.runbook/lock``, taken without waiting: a second process fails at
once with :class:`LockHeldError` (exit code 3), which names the holder. The
holder is described by a sidecar, ``<target>/.runbook/lock.json`` (pid,
incident, command, start time), written after the lock is taken and removed
before it is released.

The kernel releases the OS lock when its holder dies, even by SIGKILL, so a
dead holder never blocks anyone; its sidecar is left behind, though. The next
holder reports that sidecar as *stale* (with whether the pid still runs) and
takes the lock all the same.
"""

import json
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, NamedTuple, Self

from runbook_lib.base import crashpoints
from runbook_lib.base.errors import InvalidInputError, LockHeldError, WorkspaceError
from runbook_lib.base.fsutil import atomic_write_text
from runbook_lib.base.oslock import FileLock, Timeout, held_elsewhere
from runbook_lib.base.records import plain

LOCK_DIR = ".runbook"
LOCK_FILE = "lock"
HOLDER_FILE = "lock.json"
# Written into .runbook/ when the lock makes it: the directory then stays out of
# the target's 'git status' (rollback.env, the lock) whatever its .gitignore says.
IGNORE_FILE = ".gitignore"
IGNORE_TEXT = "# Written by runbook: runtime state (rollback.env, the lock), never committed.\n*\n"
_NAMING_WAIT_S = 2.0


def _proc_start(pid: int) -> float | None:
    """Psutil's create_time on Linux (boot time + start ticks), read from /proc directly."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            data = stat.read()
        ticks = int(data[data.rindex(b")") + 2 :].split()[19])
        with open("/proc/stat", "rb") as system:
            boot = next(float(line.split()[1]) for line in system if line.startswith(b"btime"))
        return boot + ticks / os.sysconf("SC_CLK_TCK")
    except FileNotFoundError:
        return None  # no such process
    except (OSError, ValueError, IndexError, StopIteration):
        return _psutil_start(pid)


def _psutil_start(pid: int) -> float | None:
    import psutil  # 25 ms to import: only where /proc cannot answer

    try:
        return psutil.Process(pid).create_time()
    except (psutil.Error, OSError):
        return None


def _process_start(pid: int) -> float | None:
    # 'rollback now' takes the lock at once: psutil's import costs more than the rollback.
    if os.path.isdir("/proc/self"):
        return _proc_start(pid)
    return _psutil_start(pid)


class LockHolder(NamedTuple):
    """Who holds (or held) a target's lock."""

    pid: int
    incident: str | None
    command: str
    started_at: str
    host: str
    process_start: float | None = None

    @classmethod
    def current(cls, incident: str | None, command: str) -> Self:
        """A description of this process."""
        pid = os.getpid()
        started = datetime.now(UTC).isoformat(timespec="seconds")
        return cls(pid, incident, command, started, os.uname().nodename, _process_start(pid))

    def is_alive(self) -> bool:
        """Whether the holder's process still runs (the same process, not a reused pid)."""
        if self.host != os.uname().nodename:
            return True  # cannot tell from here; assume the worst
        start = _process_start(self.pid)
        if start is None:
            return False
        return self.process_start is None or abs(start - self.process_start) < 1.0

    def describe(self) -> str:
        """One line for people."""
        incident = self.incident or "no incident"
        return f"pid {self.pid} ({incident}, {self.command or '?'}, since {self.started_at})"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return self._asdict()

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        """Rebuild from :meth:`to_dict` output (raises KeyError/TypeError if it is not one)."""
        return cls(
            int(data["pid"]),
            data.get("incident"),
            str(data.get("command", "")),
            str(data.get("started_at", "")),
            str(data.get("host", "")),
            data.get("process_start"),
        )


class Acquired(NamedTuple):
    """The lock was taken: by whom, and what a dead earlier holder left behind."""

    target: Path
    holder: LockHolder
    stale: LockHolder | None = None
    stale_alive: bool = False

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        data: dict[str, Any] = plain(self)
        data["target"] = str(self.target)
        return data


def read_holder(target: Path) -> LockHolder | None:
    """The holder the sidecar names, if there is a readable one."""
    try:
        data = json.loads((target / LOCK_DIR / HOLDER_FILE).read_text(encoding="utf-8"))
        return LockHolder.from_dict(data)
    except (OSError, ValueError, KeyError, TypeError):
        return None


class TargetLock:
    """The lock of one target; use as a context manager or call acquire/release."""

    def __init__(self, target: Path, *, incident: str | None = None, command: str = "") -> None:
        self.target = target.resolve()
        self.incident = incident
        self.command = command
        self._lock = FileLock(self.target / LOCK_DIR / LOCK_FILE, blocking=False)

    @property
    def held(self) -> bool:
        """Whether this object holds the lock."""
        return self._lock.is_locked

    def acquire(self) -> Acquired:
        """Take the lock without waiting.

        Raises:
            InvalidInputError: the target is not a directory.
            WorkspaceError: the lock's directory cannot be made in the target.
            LockHeldError: another process holds it; the message names its pid and incident.
        """
        if not self.target.is_dir():
            raise InvalidInputError(f"target {self.target} is not a directory")
        try:
            (self.target / LOCK_DIR).mkdir(exist_ok=True)
            ignore = self.target / LOCK_DIR / IGNORE_FILE
            if not ignore.exists():
                atomic_write_text(ignore, IGNORE_TEXT, within=self.target)
        except OSError as err:
            raise WorkspaceError(
                f"cannot create {LOCK_DIR}/ in target {self.target}: {err}",
                hint="the runbook needs write access to the target",
            ) from err
        try:
            self._lock.acquire()
        except Timeout:
            raise self._held_error() from None
        previous = read_holder(self.target)
        holder = LockHolder.current(self.incident, self.command)
        text = json.dumps(holder.to_dict(), indent=2, sort_keys=True) + "\n"
        # Not flushed to disk: a reboot ends the holder, and the kernel's lock with it.
        atomic_write_text(self.target / LOCK_DIR / HOLDER_FILE, text, durable=False)
        crashpoints.arm(self.target)
        alive = previous.is_alive() if previous is not None else False
        return Acquired(self.target, holder, previous, alive)

    def _holder_now(self) -> LockHolder | None:
        # The holder names itself just after it takes the lock, and a dead earlier
        # holder's sidecar may still be there: wait briefly for a live name.
        deadline = time.monotonic() + _NAMING_WAIT_S
        while True:
            holder = read_holder(self.target)
            if (holder is not None and holder.is_alive()) or time.monotonic() >= deadline:
                return holder
            time.sleep(0.01)

    def _held_error(self) -> LockHeldError:
        holder = self._holder_now()
        who = holder.describe() if holder else "another process (it has not named itself yet)"
        if holder is not None and not holder.is_alive():
            who += "; that pid no longer runs, so a child of it may hold the lock"
        return LockHeldError(
            f"target {self.target} is locked by {who}",
            hint="wait for it to finish; only one runbook command may change a target at a time",
        )

    def release(self) -> None:
        """Give the lock back (its sidecar first); a lock not held is left alone."""
        if not self._lock.is_locked:
            return
        try:
            (self.target / LOCK_DIR / HOLDER_FILE).unlink(missing_ok=True)
        finally:
            self._lock.release(force=True)

    def __enter__(self) -> Acquired:
        return self.acquire()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release()


class LockStatus(NamedTuple):
    """Whether a target is locked now, and by whom.

    Attributes:
        target: The target's root.
        held: Another process (or object) holds the lock.
        holder: The holder the sidecar names.
        stale: A sidecar names a holder, but nobody holds the lock (that holder died).
    """

    target: Path
    held: bool
    holder: LockHolder | None
    stale: bool

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        data: dict[str, Any] = plain(self)
        data["target"] = str(self.target)
        return data


def lock_status(target: Path) -> LockStatus:
    """Probe the target's lock without keeping it."""
    target = target.resolve()
    held = held_elsewhere(target / LOCK_DIR / LOCK_FILE)
    holder = read_holder(target)
    return LockStatus(target, held, holder, stale=holder is not None and not held)
