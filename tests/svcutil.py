"""Start a sandbox's own service in a test and make sure every process of it is stopped by pid."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil

from runbook_lib.rollback.actions.servicectl import adapter_for
from runbook_lib.target.manifest import load_manifest
from runbook_lib.target.service import ServiceAdapter


class ServiceGuard:
    """The target's service adapter and every pid the test saw it run as."""

    def __init__(self, root: Path) -> None:
        manifest = load_manifest(root)
        assert manifest.service is not None
        self.adapter: ServiceAdapter = adapter_for(manifest.service, manifest.root)
        self.pids: list[int] = []

    def start(self) -> int:
        status = self.adapter.start()
        assert status.pid is not None
        self.pids.append(status.pid)
        health = self.adapter.wait_healthy(60.0)
        assert health.healthy, health.error
        return status.pid

    def current_pid(self) -> int | None:
        status = self.adapter.status()
        if status.running and status.pid is not None:
            self.pids.append(status.pid)
            return status.pid
        return None

    def stop_all(self) -> list[int]:
        """Stop the service, then kill by pid anything seen that still runs; return those pids."""
        self.current_pid()
        self.adapter.stop(timeout=10.0)
        left = []
        for pid in dict.fromkeys(self.pids):
            try:
                process = psutil.Process(pid)
                if process.status() != psutil.STATUS_ZOMBIE:
                    left.append(pid)
                    process.kill()
            except psutil.NoSuchProcess:
                continue
        return left


@contextmanager
def guarded_service(root: Path, *, start: bool = True) -> Iterator[ServiceGuard]:
    """A :class:`ServiceGuard` (its service started unless told not to), stopped on exit."""
    guard = ServiceGuard(root)
    try:
        if start:
            guard.start()
        yield guard
    finally:
        left = guard.stop_all()
    assert not left, f"service processes left running after the test: {left}"
