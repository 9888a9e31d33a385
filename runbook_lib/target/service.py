"""Start, stop, restart and health-check a target's service, whatever runs it.

:class:`ServiceAdapter` is the interface the rollback actions use; two
implementations:

* :class:`~runbook_lib.target.process.ProcessAdapter` runs the service as a
  detached child process and keeps a pidfile (pid and process create time, so
  a pid reused by another process is never taken for the service). ``start``
  refuses while the service runs and clears a stale pidfile; ``stop`` sends
  SIGTERM, then SIGKILL after a timeout.
* :class:`~runbook_lib.target.systemd.SystemdAdapter` runs
  ``systemctl start|stop|restart|is-active <unit>`` through an injectable runner.

Health checks (:mod:`runbook_lib.target.health`) are HTTP GETs to 127.0.0.1
only, without proxies. Every result is a plain dataclass with ``to_dict``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass
from typing import Any

from runbook_lib.target.health import HealthReport


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
