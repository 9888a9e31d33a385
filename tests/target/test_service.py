"""Service adapters: a real process on 127.0.0.1 (pidfile, SIGTERM/SIGKILL) and systemctl commands."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator, Sequence
from pathlib import Path

import psutil
import pytest

from runbook_lib.base.errors import InvalidInputError, WorkspaceError
from runbook_lib.target.health import check_loopback_url, probe
from runbook_lib.target.process import PidRecord, ProcessAdapter, ProcessSpec
from runbook_lib.target.systemd import CommandResult, SystemdAdapter

# A small real HTTP service with the same contract as the sandbox's trade-agent:
# binds port 0 on 127.0.0.1, writes its state file, serves /health, stops on SIGTERM.
SERVICE = textwrap.dedent("""
    import json, os, signal, sys, threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    mode, state_file = sys.argv[1], sys.argv[2]
    if mode == "exit":
        print("config broken: cannot start", file=sys.stderr)
        sys.exit(3)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, signal.SIG_IGN if mode == "ignore-term" else lambda *_: stop.set())

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            healthy = mode != "unhealthy"
            body = json.dumps({"status": "ok" if healthy else "degraded", "version": "9.9"}).encode()
            self.send_response(200 if healthy else 503)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    state = {"pid": os.getpid(), "port": port, "url": f"http://127.0.0.1:{port}", "version": "9.9"}
    with open(state_file + ".tmp", "w") as handle:
        json.dump(state, handle)
    os.replace(state_file + ".tmp", state_file)
    while not stop.wait(0.2):
        pass
    server.shutdown()
    os.unlink(state_file)
    print("stopped cleanly", file=sys.stderr)
""")


def make_spec(root: Path, mode: str = "ok") -> ProcessSpec:
    script = root / "svc.py"
    script.write_text(SERVICE)
    return ProcessSpec(
        name="demo",
        command=(sys.executable, str(script), mode, ".run/demo.json"),
        cwd=root,
        pidfile=Path(".run/demo.pid"),
        state_file=Path(".run/demo.json"),
    )


@pytest.fixture
def started_pids() -> Iterator[list[int]]:
    """Pids the test started; the finalizer checks none is left (and kills any by pid)."""
    pids: list[int] = []
    yield pids
    orphans = []
    for pid in pids:
        try:
            process = psutil.Process(pid)
            if process.status() != psutil.STATUS_ZOMBIE:
                orphans.append(pid)
                process.kill()
        except psutil.NoSuchProcess:
            pass
    assert not orphans, f"processes left running after the test: {orphans}"


@pytest.fixture
def adapter(tmp_path: Path, started_pids: list[int]) -> Iterator[ProcessAdapter]:
    service = ProcessAdapter(make_spec(tmp_path))
    yield service
    service.stop(timeout=5)


def start(service: ProcessAdapter, pids: list[int]) -> int:
    status = service.start()
    assert status.running and status.pid is not None
    pids.append(status.pid)
    return status.pid


def test_start_health_status_stop(
    adapter: ProcessAdapter, started_pids: list[int], tmp_path: Path
) -> None:
    pid = start(adapter, started_pids)
    assert (tmp_path / ".run/demo.pid").read_text().splitlines()[0] == str(pid)
    health = adapter.wait_healthy(timeout=20)
    assert health.healthy, health.error
    assert (
        health.url is not None
        and health.url.startswith("http://127.0.0.1:")
        and health.url.endswith("/health")
    )
    assert health.body["version"] == "9.9" and health.to_check().status == "pass"
    status = adapter.status()
    assert (status.running, status.pid, status.version) == (True, pid, "9.9")
    assert status.port is not None and status.url == f"http://127.0.0.1:{status.port}"
    assert status.uptime_s is not None and status.uptime_s >= 0
    result = adapter.stop(timeout=10)
    assert (result.was_running, result.pid, result.signal, result.exit_code) == (
        True,
        pid,
        "SIGTERM",
        0,
    )
    assert not psutil.pid_exists(pid)
    assert not (tmp_path / ".run/demo.pid").exists()
    assert not (tmp_path / ".run/demo.json").exists(), (
        "the service removes its state file on SIGTERM"
    )
    assert "stopped cleanly" in (tmp_path / ".run/demo.log").read_text()
    assert adapter.status().running is False


def test_start_refuses_when_already_running(
    adapter: ProcessAdapter, started_pids: list[int]
) -> None:
    pid = start(adapter, started_pids)
    with pytest.raises(WorkspaceError, match=rf"already running \(pid {pid}\)"):
        adapter.start()
    assert adapter.status().pid == pid


def test_a_second_adapter_sees_and_stops_the_service(
    tmp_path: Path, started_pids: list[int]
) -> None:
    first, second = ProcessAdapter(make_spec(tmp_path)), ProcessAdapter(make_spec(tmp_path))
    pid = start(first, started_pids)
    assert first.wait_healthy(timeout=20).healthy
    with pytest.raises(WorkspaceError, match="already running"):
        second.start()
    result = second.stop(timeout=10)
    assert result.was_running and result.signal == "SIGTERM"
    assert psutil.Process(pid).status() == psutil.STATUS_ZOMBIE  # only its parent can reap it
    assert first.status().running is False  # and the parent's adapter does
    assert not psutil.pid_exists(pid)


def test_restart_gives_a_new_healthy_process(
    adapter: ProcessAdapter, started_pids: list[int]
) -> None:
    old = start(adapter, started_pids)
    assert adapter.wait_healthy(timeout=20).healthy
    status = adapter.restart(timeout=10)
    assert status.pid is not None
    started_pids.append(status.pid)
    assert status.pid != old and not psutil.pid_exists(old)
    assert adapter.wait_healthy(timeout=20).healthy


def test_stale_pidfile_of_a_dead_process_is_replaced(
    adapter: ProcessAdapter, started_pids: list[int], tmp_path: Path
) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    pidfile = tmp_path / ".run/demo.pid"
    pidfile.parent.mkdir()
    pidfile.write_text(f"{dead.pid}\n")
    (tmp_path / ".run/demo.json").write_text(
        json.dumps({"pid": dead.pid, "url": "http://127.0.0.1:1"})
    )
    status = adapter.status()
    assert not status.running and "stale pidfile" in status.detail
    pid = start(adapter, started_pids)
    assert pid != dead.pid
    assert adapter.wait_healthy(timeout=20).healthy


def test_a_reused_pid_is_not_taken_for_the_service(adapter: ProcessAdapter, tmp_path: Path) -> None:
    # The pidfile names a live process (this test's), but its create time is not the one recorded.
    me = psutil.Process(os.getpid())
    pidfile = tmp_path / ".run/demo.pid"
    pidfile.parent.mkdir()
    pidfile.write_text(PidRecord(me.pid, me.create_time() - 100.0).text())
    assert adapter.status().running is False
    result = adapter.stop(timeout=1)
    assert not result.was_running and "stale" in result.detail
    assert me.is_running(), "stop must never signal a process it did not start"
    assert not pidfile.exists()


def test_stop_kills_a_service_that_ignores_sigterm(tmp_path: Path, started_pids: list[int]) -> None:
    service = ProcessAdapter(make_spec(tmp_path, mode="ignore-term"))
    pid = start(service, started_pids)
    assert service.wait_healthy(timeout=20).healthy
    result = service.stop(timeout=0.5)
    assert (result.signal, result.exit_code) == ("SIGKILL", -signal.SIGKILL)
    assert "killed" in result.detail and not psutil.pid_exists(pid)
    assert not (tmp_path / ".run/demo.json").exists(), "the dead service's state file is cleared"


def test_wait_healthy_fails_fast_when_the_process_exits(
    tmp_path: Path, started_pids: list[int]
) -> None:
    service = ProcessAdapter(make_spec(tmp_path, mode="exit"))
    start(service, started_pids)
    health = service.wait_healthy(timeout=20)
    assert not health.healthy and health.waited_s < 10
    assert health.error is not None and "config broken: cannot start" in health.error
    assert health.to_check().status == "fail"
    service.stop()


def test_wait_healthy_times_out_on_an_unhealthy_service(
    tmp_path: Path, started_pids: list[int]
) -> None:
    service = ProcessAdapter(make_spec(tmp_path, mode="unhealthy"))
    start(service, started_pids)
    try:
        health = service.wait_healthy(timeout=1.5)
        assert not health.healthy and health.status_code == 503 and health.attempts >= 1
        assert health.error is not None and "503" in health.error
    finally:
        service.stop(timeout=5)


def test_stop_without_pidfile_does_nothing(adapter: ProcessAdapter) -> None:
    result = adapter.stop()
    assert not result.was_running and result.detail == "not running (no pidfile)"


def test_bad_specs_are_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="empty command"):
        ProcessAdapter(ProcessSpec("x", (), tmp_path, Path("x.pid")))
    with pytest.raises(InvalidInputError, match="working directory"):
        ProcessAdapter(ProcessSpec("x", ("true",), tmp_path / "nope", Path("x.pid")))


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost:80/health",
        "http://10.0.0.1:8080/health",
        "https://127.0.0.1:8443/",
        "http://127.0.0.1/health",
    ],
)
def test_only_loopback_urls_are_probed(url: str) -> None:
    with pytest.raises(InvalidInputError, match=r"127\.0\.0\.1"):
        check_loopback_url(url)
    with pytest.raises(InvalidInputError):
        probe(url)


# -- systemd: the exact commands, through an injected runner ---------------------------


class Systemctl:
    """Answers like systemctl would, and records every command it was given."""

    def __init__(self, states: Sequence[str] = ("active",), fail: str | None = None) -> None:
        self.commands: list[list[str]] = []
        self.states = list(states)
        self.fail = fail

    def __call__(self, argv: Sequence[str]) -> CommandResult:
        self.commands.append(list(argv))
        verb = argv[-2]
        if verb == "is-active":
            state = self.states.pop(0) if len(self.states) > 1 else self.states[0]
            return CommandResult(0 if state == "active" else 3, state + "\n")
        if verb == self.fail:
            return CommandResult(1, "", f"Failed to {verb} sac-agent.service: Access denied")
        return CommandResult(0)


def test_systemd_commands() -> None:
    runner = Systemctl(states=["inactive", "active"])
    unit = SystemdAdapter("sac-agent.service", systemctl=("sudo", "systemctl"), runner=runner)
    assert unit.stop().was_running is False
    assert unit.start().running is True
    assert unit.restart().running is True
    assert runner.commands == [
        ["sudo", "systemctl", "is-active", "sac-agent.service"],
        ["sudo", "systemctl", "stop", "sac-agent.service"],
        ["sudo", "systemctl", "start", "sac-agent.service"],
        ["sudo", "systemctl", "is-active", "sac-agent.service"],
        ["sudo", "systemctl", "restart", "sac-agent.service"],
        ["sudo", "systemctl", "is-active", "sac-agent.service"],
    ]


def test_systemd_failure_names_the_command() -> None:
    unit = SystemdAdapter("sac-agent.service", runner=Systemctl(fail="start"))
    with pytest.raises(
        WorkspaceError, match=r"systemctl start sac-agent\.service failed: .*Access denied"
    ):
        unit.start()


def test_systemd_wait_healthy_follows_is_active() -> None:
    runner = Systemctl(states=["activating", "activating", "active"])
    health = SystemdAdapter("sac-agent.service", runner=runner).wait_healthy(timeout=5)
    assert health.healthy and len(runner.commands) == 3
    failed = SystemdAdapter("sac-agent.service", runner=Systemctl(states=["failed"])).wait_healthy(
        timeout=5
    )
    assert not failed.healthy and failed.error == "sac-agent.service is failed"


@pytest.mark.parametrize("unit", ["", "-x", "sac agent", "a;rm -rf /"])
def test_systemd_refuses_bad_unit_names(unit: str) -> None:
    with pytest.raises(InvalidInputError, match="not a systemd unit name"):
        SystemdAdapter(unit, runner=Systemctl())


def test_systemd_health_url_must_be_loopback() -> None:
    with pytest.raises(InvalidInputError, match=r"127\.0\.0\.1"):
        SystemdAdapter(
            "sac-agent.service", health_url="http://example.com:80/health", runner=Systemctl()
        )
