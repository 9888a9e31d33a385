"""Start, stop, restart and health-check a target's service, whatever runs it.

:class:`ServiceAdapter` is the interface the rollback actions use; two
implementations:

* :class:`ProcessAdapter` runs the service as a detached child process and keeps
  a pidfile (pid and process create time, so a pid reused by another process
  is never taken for the service). ``start`` refuses while the service runs and
  clears a stale pidfile; ``stop`` sends SIGTERM, then SIGKILL after a timeout.
* :class:`SystemdAdapter` runs ``systemctl start|stop|restart|is-active <unit>``
  through an injectable runner.

Health checks are HTTP GETs to 127.0.0.1 only, without proxies. Every result
is a plain dataclass with ``to_dict``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import time
import urllib.error
import urllib.request
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psutil

from runbook_lib.base.errors import InvalidInputError, WorkspaceError
from runbook_lib.base.fsutil import atomic_write_text
from runbook_lib.base.report import CheckResult

LOOPBACK = "127.0.0.1"
_POLL_S = 0.1
_CREATE_TIME_TOLERANCE_S = 0.05
_LOG_TAIL_LINES = 8


@dataclass(frozen=True)
class ServiceStatus:
    """Whether the service runs, and where.

    Attributes:
        name: The service's name.
        running: True when the recorded process (or unit) is alive.
        pid: Its process id, when known.
        port: The port it serves on, when known.
        url: Its base URL, when known.
        uptime_s: Seconds since it started, when known.
        version: The version it reports, when known.
        detail: One line for people (why not running, stale pidfile, ...).
    """

    name: str
    running: bool
    pid: int | None = None
    port: int | None = None
    url: str | None = None
    uptime_s: float | None = None
    version: str | None = None
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


@dataclass(frozen=True)
class StopResult:
    """What stopping the service did.

    Attributes:
        name: The service's name.
        was_running: Whether there was a process (or active unit) to stop.
        pid: The process stopped, when known.
        signal: ``SIGTERM``, ``SIGKILL`` (the timeout passed) or ``None``.
        seconds: How long stopping took.
        detail: One line for people.
        exit_code: The process's exit status, when the adapter started it
            (negative: killed by that signal).
    """

    name: str
    was_running: bool
    pid: int | None = None
    signal: str | None = None
    seconds: float = 0.0
    detail: str = ""
    exit_code: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


@dataclass(frozen=True)
class HealthReport:
    """The outcome of waiting for the service to answer its health check.

    Attributes:
        name: The service's name.
        healthy: True when the health endpoint answered 200 with ``status: ok``.
        url: The health URL probed (``None`` if it never became known).
        status_code: The last HTTP status received.
        body: The last JSON body received.
        waited_s: Seconds spent waiting.
        attempts: Number of probes made.
        error: Why it is not healthy.
    """

    name: str
    healthy: bool
    url: str | None = None
    status_code: int | None = None
    body: dict[str, Any] = field(default_factory=dict)
    waited_s: float = 0.0
    attempts: int = 0
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)

    def to_check(self, name: str = "service.health") -> CheckResult:
        """The report as a blocking :class:`~runbook_lib.base.report.CheckResult`."""
        if self.healthy:
            version = self.body.get("version", "?")
            summary = f"{self.name} healthy at {self.url} (version {version})"
            return CheckResult(name, "pass", summary, self.to_dict(), self.waited_s)
        summary = f"{self.name} not healthy after {self.waited_s:.1f} s: {self.error}"
        return CheckResult(name, "fail", summary, self.to_dict(), self.waited_s)


def check_loopback_url(url: str) -> str:
    """Return ``url`` if it is ``http://127.0.0.1:<port>/...``.

    Raises:
        InvalidInputError: any other scheme or host.
    """
    parts = urlsplit(url)
    if parts.scheme != "http" or parts.hostname != LOOPBACK or parts.port is None:
        raise InvalidInputError(
            f"health URL {url!r} is not http://{LOOPBACK}:<port>/...",
            hint="the runbook only probes services on this machine's loopback address",
        )
    return url


_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def probe(url: str, *, timeout: float = 2.0) -> tuple[int, dict[str, Any]]:
    """GET a loopback URL and return its status code and JSON body (``{}`` if not JSON).

    Raises:
        InvalidInputError: the URL is not on 127.0.0.1.
        OSError: the connection failed (refused, reset, timed out).
    """
    check_loopback_url(url)
    try:
        with _NO_PROXY.open(url, timeout=timeout) as response:
            status, raw = int(response.status), response.read()
    except urllib.error.HTTPError as err:
        status, raw = int(err.code), err.read()
    try:
        body = json.loads(raw)
    except ValueError:
        body = {}
    return status, body if isinstance(body, dict) else {}


def is_healthy(status: int, body: Mapping[str, Any]) -> bool:
    """The health contract: HTTP 200 and ``"status": "ok"``."""
    return status == 200 and body.get("status") == "ok"


@dataclass
class _Probe:
    """What the health probes of one wait have seen so far."""

    url: str | None = None
    code: int | None = None
    body: dict[str, Any] = field(default_factory=dict)
    attempts: int = 0
    error: str = "not probed yet"

    def hit(self, url: str) -> bool:
        """Probe ``url`` once; True when healthy."""
        self.url = url
        self.attempts += 1
        try:
            self.code, self.body = probe(url, timeout=2.0)
        except OSError as err:
            self.error = f"health probe failed: {err}"
            return False
        healthy = is_healthy(self.code, self.body)
        self.error = "" if healthy else f"health answered {self.code}: {self.body or 'no JSON'}"
        return healthy


def _poll(name: str, timeout: float, attempt: Callable[[_Probe], bool | None]) -> HealthReport:
    """Call ``attempt`` until it says True (healthy) or False (give up), or ``timeout`` passes."""
    started = time.perf_counter()
    seen = _Probe()
    while True:
        verdict = attempt(seen)
        waited = round(time.perf_counter() - started, 3)
        if verdict is True:
            return HealthReport(name, True, seen.url, seen.code, seen.body, waited, seen.attempts)
        if verdict is False or waited >= timeout:
            return HealthReport(
                name, False, seen.url, seen.code, seen.body, waited, seen.attempts, seen.error
            )
        time.sleep(_POLL_S)


class ServiceAdapter(ABC):
    """Control one service; see the module docstring."""

    name: str

    @abstractmethod
    def start(self) -> ServiceStatus:
        """Start the service and return its status (it may not be healthy yet)."""

    @abstractmethod
    def stop(self, timeout: float = 10.0) -> StopResult:
        """Stop the service, forcibly once ``timeout`` seconds have passed."""

    @abstractmethod
    def status(self) -> ServiceStatus:
        """Report whether the service runs; change nothing."""

    @abstractmethod
    def wait_healthy(self, timeout: float = 30.0) -> HealthReport:
        """Wait until the service answers its health check, or ``timeout`` passes."""

    def restart(self, timeout: float = 10.0) -> ServiceStatus:
        """Stop (if running), then start."""
        self.stop(timeout)
        return self.start()


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
                    list(self.spec.command), cwd=self.spec.cwd, env={**os.environ, **self.spec.env},
                    stdin=subprocess.DEVNULL, stdout=handle, stderr=subprocess.STDOUT,
                    start_new_session=True,  # an operator's Ctrl-C must not stop the service
                )  # fmt: skip
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
            time.sleep(_POLL_S / 2)
        return True, None

    def wait_healthy(self, timeout: float = 30.0) -> HealthReport:
        """Probe the URL from the state file until healthy; fail fast if the process dies."""

        def attempt(probe: _Probe) -> bool | None:
            current = self.status()
            if not current.running:
                probe.error = f"{current.detail}; log tail: {self._log_tail()}"
                return False
            if not current.url:
                probe.error = "the service has not written its URL yet"
                return None
            return probe.hit(current.url.rstrip("/") + self.spec.health_path) or None

        return _poll(self.name, timeout, attempt)

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


@dataclass(frozen=True)
class CommandResult:
    """The outcome of one external command."""

    returncode: int
    stdout: str = ""
    stderr: str = ""


Runner = Callable[[Sequence[str]], CommandResult]


def run_command(argv: Sequence[str]) -> CommandResult:
    """Run ``argv`` (no shell) with a 120 s limit and capture its output."""
    try:
        proc = subprocess.run(
            list(argv), capture_output=True, text=True, timeout=120, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        return CommandResult(127, "", str(err))
    return CommandResult(proc.returncode, proc.stdout, proc.stderr)


_UNIT = re.compile(r"^[A-Za-z0-9:_.@\\-]+$")


class SystemdAdapter(ServiceAdapter):
    """A systemd unit controlled with ``systemctl``; see the module docstring."""

    def __init__(
        self,
        unit: str,
        *,
        systemctl: Sequence[str] = ("systemctl",),
        health_url: str | None = None,
        runner: Runner = run_command,
    ) -> None:
        """Control ``unit`` with ``systemctl`` (e.g. ``("sudo", "systemctl")``).

        Raises:
            InvalidInputError: the unit name or the health URL is not acceptable.
        """
        if not _UNIT.match(unit) or unit.startswith("-"):
            raise InvalidInputError(
                f"{unit!r} is not a systemd unit name", hint="for example 'sac-agent.service'"
            )
        if not systemctl:
            raise InvalidInputError("the systemctl command is empty")
        self.unit = unit
        self.name = unit
        self.systemctl = tuple(systemctl)
        self.health_url = check_loopback_url(health_url) if health_url else None
        self.runner = runner

    def command(self, verb: str) -> list[str]:
        """The exact command line for ``systemctl <verb> <unit>``."""
        return [*self.systemctl, verb, self.unit]

    def _run(self, verb: str) -> CommandResult:
        result = self.runner(self.command(verb))
        if result.returncode != 0:
            reason = (result.stderr or result.stdout).strip() or f"exit {result.returncode}"
            raise WorkspaceError(f"{' '.join(self.command(verb))} failed: {reason}")
        return result

    def _active_state(self) -> str:
        # is-active exits non-zero for every state but "active": its output is the answer.
        result = self.runner(self.command("is-active"))
        return result.stdout.strip() or "unknown"

    def status(self) -> ServiceStatus:
        """``systemctl is-active <unit>``."""
        state = self._active_state()
        return ServiceStatus(self.name, state == "active", url=self.health_url, detail=state)

    def start(self) -> ServiceStatus:
        """``systemctl start <unit>``."""
        self._run("start")
        return self.status()

    def stop(self, timeout: float = 10.0) -> StopResult:
        """``systemctl stop <unit>`` (systemd escalates to SIGKILL after its TimeoutStopSec)."""
        started = time.perf_counter()
        was_running = self._active_state() == "active"
        self._run("stop")
        seconds = round(time.perf_counter() - started, 3)
        return StopResult(self.name, was_running, seconds=seconds, detail="systemctl stop")

    def restart(self, timeout: float = 10.0) -> ServiceStatus:
        """``systemctl restart <unit>``."""
        self._run("restart")
        return self.status()

    def wait_healthy(self, timeout: float = 30.0) -> HealthReport:
        """Wait for ``is-active`` to say ``active`` and, if configured, the health URL to answer."""

        def attempt(probe: _Probe) -> bool | None:
            state = self._active_state()
            if state != "active":
                probe.error = f"{self.unit} is {state}"
                return False if state == "failed" else None
            if self.health_url is None:
                probe.body = {"status": "active"}
                return True
            return probe.hit(self.health_url) or None

        return _poll(self.name, timeout, attempt)
