"""Run a target's service as a detached child process recorded in a pidfile.

The pidfile holds the pid and the process's create time, so a pid reused by
another process is never taken for the service. ``start`` refuses while the
service runs and clears a stale pidfile; ``stop`` sends SIGTERM, then SIGKILL
after a timeout.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from runbook_lib.base.errors import InvalidInputError, WorkspaceError
from runbook_lib.base.fsutil import atomic_write_text
from runbook_lib.target.health import POLL_S, HealthProbe, HealthReport, poll_health
from runbook_lib.target.service import ServiceAdapter, ServiceStatus, StopResult

_CREATE_TIME_TOLERANCE_S = 0.05
_LOG_TAIL_LINES = 8


@dataclass(frozen=True)
class ProcessSpec:
    """How to run a service as a process.

    Relative paths are relative to ``cwd``.

    Attributes:
        name: The service's name.
        command: The program and its arguments.
        cwd: Working directory of the service.
        pidfile: Where the adapter records the pid (and create time).
        state_file: JSON the service writes once it listens (``pid``, ``port``,
            ``url``, ``version``...); without it no URL is known.
        env: Variables added to the environment (``PYTHONPATH`` and the like).
        health_path: Path of the health endpoint under the service's URL.
        log_file: Where stdout and stderr go (default: the pidfile with ``.log``).
    """

    name: str
    command: tuple[str, ...]
    cwd: Path
    pidfile: Path
    state_file: Path | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    health_path: str = "/health"
    log_file: Path | None = None

    def path(self, relative: Path) -> Path:
        """Resolve a spec path against ``cwd``."""
        return relative if relative.is_absolute() else self.cwd / relative

    @property
    def log_path(self) -> Path:
        """The log file's path."""
        return self.path(self.log_file or self.pidfile.with_suffix(".log"))


@dataclass(frozen=True)
class PidRecord:
    """A pidfile's content: the pid and the create time of the process started."""

    pid: int
    create_time: float | None

    def text(self) -> str:
        """The pidfile's text: the pid alone on line 1 (``kill $(head -1 f)`` works)."""
        return f"{self.pid}\ncreate_time {self.create_time}\n"

    @classmethod
    def parse(cls, text: str) -> PidRecord | None:
        """Read a pidfile; ``None`` when it holds no pid."""
        lines = text.split("\n")
        if not lines[0].strip().isdigit():
            return None
        created = None
        for line in lines[1:]:
            key, _, value = line.partition(" ")
            if key == "create_time":
                with contextlib.suppress(ValueError):
                    created = float(value)
        return cls(int(lines[0]), created)


def _alive(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


class ProcessAdapter(ServiceAdapter):
    """A service run as a detached process with a pidfile; see the module docstring."""

    def __init__(self, spec: ProcessSpec) -> None:
        """Control the service ``spec`` describes.

        Raises:
            InvalidInputError: the command is empty or ``cwd`` is not a directory.
        """
        if not spec.command:
            raise InvalidInputError(f"service {spec.name!r} has an empty command")
        if not spec.cwd.is_dir():
            raise InvalidInputError(
                f"service {spec.name!r}: working directory {spec.cwd} is missing"
            )
        self.spec = spec
        self.name = spec.name
        self._children: dict[int, subprocess.Popen[bytes]] = {}

    # -- the pidfile -------------------------------------------------------
    def _reap(self) -> None:
        """Collect the exit status of children that ended (stopped elsewhere, or crashed)."""
        for pid, child in list(self._children.items()):
            if child.poll() is not None:
                del self._children[pid]

    def _record(self) -> PidRecord | None:
        self._reap()
        try:
            return PidRecord.parse(self.spec.path(self.spec.pidfile).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError):
            return None

    def _ours(self, record: PidRecord) -> psutil.Process | None:
        """The recorded process, if it is alive and is the one we started."""
        try:
            process = psutil.Process(record.pid)
            created = process.create_time()
        except psutil.Error:
            return None
        if record.create_time is not None and (
            abs(created - record.create_time) > _CREATE_TIME_TOLERANCE_S
        ):
            return None  # the pid was reused by an unrelated process
        return process if _alive(process) else None

    def _state(self, pid: int) -> dict[str, Any]:
        if self.spec.state_file is None:
            return {}
        try:
            state = json.loads(self.spec.path(self.spec.state_file).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return state if isinstance(state, dict) and state.get("pid") == pid else {}

    def _clear(self, pid: int | None) -> None:
        self.spec.path(self.spec.pidfile).unlink(missing_ok=True)
        if self.spec.state_file is not None:
            state_path = self.spec.path(self.spec.state_file)
            if pid is None or self._state(pid) or not state_path.exists():
                state_path.unlink(missing_ok=True)

    def _stale_detail(self, record: PidRecord) -> str:
        return f"stale pidfile: pid {record.pid} is not running or is another process"

    # -- the interface -----------------------------------------------------
    def status(self) -> ServiceStatus:
        """Report the recorded process's state, port and URL; change nothing."""
        record = self._record()
        if record is None:
            return ServiceStatus(self.name, False, detail="not running (no pidfile)")
        process = self._ours(record)
        if process is None:
            return ServiceStatus(self.name, False, record.pid, detail=self._stale_detail(record))
        state = self._state(record.pid)
        port = state.get("port")
        return ServiceStatus(
            name=self.name,
            running=True,
            pid=record.pid,
            port=int(port) if isinstance(port, int) else None,
            url=state.get("url"),
            uptime_s=round(time.time() - process.create_time(), 3),
            version=state.get("version"),
            detail="running" if state else "running (not listening yet)",
        )

    def start(self) -> ServiceStatus:
        """Start the process detached (own session) and record it in the pidfile.

        Raises:
            WorkspaceError: the service is already running, or it could not be launched.
        """
        record = self._record()
        if record is not None and self._ours(record) is not None:
            raise WorkspaceError(
                f"{self.name} is already running (pid {record.pid})",
                hint="stop it first, or restart it",
            )
        self._clear(None)  # a stale pidfile or state file from a process that died
        pidfile = self.spec.path(self.spec.pidfile)
        pidfile.parent.mkdir(parents=True, exist_ok=True)
        log = self.spec.log_path
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("ab") as handle:
            try:
                child = subprocess.Popen(
                    list(self.spec.command),
                    cwd=self.spec.cwd,
                    env={**os.environ, **self.spec.env},
                    stdin=subprocess.DEVNULL,
                    stdout=handle,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # an operator's Ctrl-C must not stop the service
                )
            except OSError as err:
                raise WorkspaceError(f"cannot launch {self.name}: {err}") from err
        self._children[child.pid] = child
        atomic_write_text(pidfile, PidRecord(child.pid, _create_time(child.pid)).text())
        return self.status()

    def stop(self, timeout: float = 10.0) -> StopResult:
        """SIGTERM the recorded process, SIGKILL it after ``timeout`` s; clear pidfile and state."""
        started = time.perf_counter()
        self._reap()
        record = self._record()
        if record is None:
            return StopResult(self.name, False, detail="not running (no pidfile)")
        process = self._ours(record)
        if process is None:
            self._clear(None)
            detail = self._stale_detail(record) + "; removed"
            return StopResult(self.name, False, record.pid, detail=detail)
        sent = "SIGTERM"
        process.send_signal(signal.SIGTERM)
        gone, code = self._wait_gone(process, timeout)
        if not gone:
            sent = "SIGKILL"
            process.kill()
            gone, code = self._wait_gone(process, 5.0)
        self._clear(record.pid)
        seconds = round(time.perf_counter() - started, 3)
        detail = "stopped" if sent == "SIGTERM" else f"did not stop within {timeout:.1f} s: killed"
        return StopResult(self.name, True, record.pid, sent, seconds, detail, code)

    def _wait_gone(self, process: psutil.Process, timeout: float) -> tuple[bool, int | None]:
        """Wait for ``process`` to end; return whether it did and its exit status if known.

        A process this adapter started is reaped (so no zombie is left); one
        started by another runbook process counts as gone once it is a zombie.
        """
        child = self._children.get(process.pid)
        if child is not None:
            try:
                code = child.wait(timeout)
            except subprocess.TimeoutExpired:
                return False, None
            del self._children[process.pid]
            return True, code
        deadline = time.monotonic() + timeout
        while _alive(process):
            if time.monotonic() >= deadline:
                return False, None
            time.sleep(POLL_S / 2)
        return True, None

    def wait_healthy(self, timeout: float = 30.0) -> HealthReport:
        """Probe the URL from the state file until healthy; fail fast if the process dies."""

        def attempt(probe: HealthProbe) -> bool | None:
            current = self.status()
            if not current.running:
                probe.error = f"{current.detail}; log tail: {self._log_tail()}"
                return False
            if not current.url:
                probe.error = "the service has not written its URL yet"
                return None
            return probe.hit(current.url.rstrip("/") + self.spec.health_path) or None

        return poll_health(self.name, timeout, attempt)

    def _log_tail(self) -> str:
        try:
            lines = self.spec.log_path.read_text(errors="replace").strip().splitlines()
        except OSError:
            return "(no log)"
        return " | ".join(lines[-_LOG_TAIL_LINES:]) or "(empty log)"


def _create_time(pid: int) -> float | None:
    try:
        return psutil.Process(pid).create_time()
    except psutil.Error:
        return None  # already gone: status() will say so
