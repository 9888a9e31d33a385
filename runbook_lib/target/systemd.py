"""Control a target's service as a systemd unit with ``systemctl``.

Commands run through an injectable :data:`Runner` (by default
:func:`run_command`), so tests and dry runs see the exact command lines.
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from runbook_lib.base.errors import InvalidInputError, WorkspaceError
from runbook_lib.target.health import HealthProbe, HealthReport, check_loopback_url, poll_health
from runbook_lib.target.service import ServiceAdapter, ServiceStatus, StopResult


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
        proc = subprocess.run(list(argv), capture_output=True, text=True, timeout=120, check=False)
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

        def attempt(probe: HealthProbe) -> bool | None:
            state = self._active_state()
            if state != "active":
                probe.error = f"{self.unit} is {state}"
                return False if state == "failed" else None
            if self.health_url is None:
                probe.body = {"status": "active"}
                return True
            return probe.hit(self.health_url) or None

        return poll_health(self.name, timeout, attempt)
