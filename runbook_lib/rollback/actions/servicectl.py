"""Seed 003 step 11: stop the service before the files change, start it after.

``sac-full`` brackets its file steps with a stop and a start, so that undo (in
reverse order) stops the restored version before the files go back and starts
the release again only once every file is back.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from runbook_lib.base import crashpoints
from runbook_lib.base.errors import WorkspaceError
from runbook_lib.rollback.actions.base import Action, Context
from runbook_lib.rollback.actions.model import Step
from runbook_lib.target.process import ProcessAdapter, ProcessSpec
from runbook_lib.target.service import ServiceAdapter
from runbook_lib.target.specs import ServiceSpec
from runbook_lib.target.systemd import SystemdAdapter

HEALTH_TIMEOUT_S = 60.0


def adapter_for(spec: ServiceSpec, root: Path, python: str | None = None) -> ServiceAdapter:
    """The adapter that controls the manifest's service on the target at ``root``."""
    if spec.adapter == "systemd":
        return SystemdAdapter(spec.unit or spec.name, health_url=spec.health_url)
    return ProcessAdapter(
        ProcessSpec(
            name=spec.name,
            command=tuple(spec.argv(python or sys.executable)),
            cwd=root,
            pidfile=Path(spec.pidfile or f".run/{spec.name}.pid"),
            state_file=Path(spec.state_file) if spec.state_file else None,
            env=dict(spec.env),
            health_path=spec.health_path,
        )
    )


def _spec(params: Mapping[str, Any]) -> ServiceSpec:
    data = dict(params["service"])
    data["command"] = tuple(data.get("command", ()))
    return ServiceSpec(**data)


def _start_healthy(adapter: ServiceAdapter) -> None:
    crashpoints.reach("service start")
    adapter.start()
    health = adapter.wait_healthy(HEALTH_TIMEOUT_S)
    if not health.healthy:
        raise WorkspaceError(f"service {adapter.name} did not become healthy: {health.error}")


def _stop(adapter: ServiceAdapter) -> None:
    crashpoints.reach("service stop")
    adapter.stop()


class ServiceStopAction(Action):
    """Stop the service (undo starts it again if it was running at plan time)."""

    name: ClassVar[str] = "service-stop"

    def __init__(self, service: ServiceSpec, was_running: bool = True) -> None:
        """Act on ``service``; ``was_running``: whether it ran when the step was planned."""
        self.service = service
        self.was_running = was_running

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> ServiceStopAction:
        """Rebuild from a step's params."""
        return cls(_spec(params), bool(params.get("was_running", True)))

    def params(self) -> dict[str, Any]:
        """What :meth:`from_params` needs."""
        data = self.service._asdict()
        data["command"] = list(self.service.command)
        data["env"] = dict(self.service.env)
        return {"service": data, "was_running": self.was_running}

    def plan(self, root: Path) -> Step:
        """Record whether the service runs now; stopping changes no file."""
        running = adapter_for(self.service, root).status().running
        state = "running" if running else "not running"
        return Step(
            action=self.name,
            title=f"stop service {self.service.name} ({state})",
            commands=(f"runbook: stop {self.service.name} (SIGTERM, then SIGKILL)",),
            params={**ServiceStopAction(self.service, running).params()},
        )

    def run(self, step: Step, ctx: Context) -> None:
        """Stop it (a stopped service stays stopped)."""
        _stop(adapter_for(self.service, ctx.root, ctx.python))

    def unrun(self, step: Step, ctx: Context) -> None:
        """Start it again if it was running when the plan was made."""
        if self.was_running:
            _start_healthy(adapter_for(self.service, ctx.root, ctx.python))

    def verify_state(self, step: Step, ctx: Context) -> list[str]:
        """The service is not running."""
        status = adapter_for(self.service, ctx.root, ctx.python).status()
        return [f"{self.service.name} still runs (pid {status.pid})"] if status.running else []


class ServiceStartAction(ServiceStopAction):
    """Start the service and wait for a healthy ``/health`` (undo stops it)."""

    name: ClassVar[str] = "service-start"

    def plan(self, root: Path) -> Step:
        """Starting changes no file; the health check comes with it."""
        return Step(
            action=self.name,
            title=f"start service {self.service.name} and wait for health",
            commands=(f"runbook: start {self.service.name}; GET {self.service.health_path}",),
            params=self.params(),
        )

    def run(self, step: Step, ctx: Context) -> None:
        """Start it (restart when it runs) and wait until it is healthy."""
        adapter = adapter_for(self.service, ctx.root, ctx.python)
        if adapter.status().running:
            _stop(adapter)
        _start_healthy(adapter)

    def unrun(self, step: Step, ctx: Context) -> None:
        """Stop it."""
        _stop(adapter_for(self.service, ctx.root, ctx.python))

    def verify_state(self, step: Step, ctx: Context) -> list[str]:
        """The service answers its health check."""
        health = adapter_for(self.service, ctx.root, ctx.python).wait_healthy(10.0)
        return [] if health.healthy else [f"{self.service.name} unhealthy: {health.error}"]
