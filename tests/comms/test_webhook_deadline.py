"""A webhook that trickles its answer is abandoned at the post's deadline, with no lock held."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from runbook_lib.incident.journal import read_journal
from runbook_lib.incident.store import advance_incident, incident_dir, open_incident
from tests.runutil import cli, runbook_executable


class Trickler:
    """An HTTP server on 127.0.0.1 that sends one header line every ``gap_s``, forever."""

    def __init__(self, gap_s: float) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/hook"
        self.gap_s = gap_s
        self.connected = threading.Event()
        self.stopped = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self.stopped.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._trickle, args=(conn,), daemon=True).start()

    def _trickle(self, conn: socket.socket) -> None:
        self.connected.set()
        with conn:
            try:
                conn.sendall(b"HTTP/1.1 200 OK\r\n")
                while not self.stopped.wait(self.gap_s):
                    conn.sendall(b"X-Slow: 1\r\n")
            except OSError:
                return

    def stop(self) -> None:
        self.stopped.set()
        self.sock.close()


@pytest.fixture
def trickler() -> Iterator[Trickler]:
    server = Trickler(gap_s=0.5)
    try:
        yield server
    finally:
        server.stop()


def test_a_trickling_webhook_times_out_and_does_not_hold_the_lock(
    tmp_path: Path, trickler: Trickler
) -> None:
    store = tmp_path / "archive"
    incident = open_incident(store, "unified env crashes", "critical", "crash").id
    advance_incident(store, incident, "assessed")
    target = tmp_path / "target"
    target.mkdir()
    (target / "runbook.toml").write_text(
        '[target]\nname = "svc"\n[git]\nstable_ref = "v1.0"\nrelease_ref = "v2.0"\n'
        f'[notify]\nwebhook_url = "{trickler.url}"\ndeadline_s = 12\n'
    )
    args = [
        "notify",
        "--incident",
        incident,
        "--template",
        "progress",
        "--target",
        str(target),
        "--archive",
        str(store),
        "--json",
    ]
    posting = subprocess.Popen(
        [runbook_executable(), *args],
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=dict(os.environ),
    )
    try:
        assert trickler.connected.wait(60)
        # While the first process waits on the network, the incident's lock is free.
        other = cli(
            "notify",
            "--incident",
            incident,
            "--template",
            "initial",
            "--no-post",
            "--target",
            str(target),
            "--archive",
            str(store),
        )
        assert other.returncode == 0, other.stderr
        assert posting.poll() is None  # still posting: the second did not wait for it
        out, err = posting.communicate(timeout=120)
    finally:
        if posting.poll() is None:
            posting.kill()
            posting.wait()
    assert posting.returncode == 0, err
    data = json.loads(out)
    assert data["posted"] is False
    assert data["post"]["error"] == "timed out after 12 s"
    events = [
        e
        for e in read_journal(incident_dir(store, incident) / "journal.jsonl").records
        if e.get("event") == "notify"
    ]
    assert [e["posted"] for e in events if e["template"] == "progress"] == [False]
    assert any(e.get("error") == "timed out after 12 s" for e in events)
    failed = json.loads(Path(data["failure_note"]).read_text())
    assert failed["error"] == "timed out after 12 s"


def test_deadline_out_of_range_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "target"
    target.mkdir()
    (target / "runbook.toml").write_text(
        '[target]\nname = "svc"\n[git]\nstable_ref = "v1.0"\nrelease_ref = "v2.0"\n'
        '[notify]\nwebhook_url = "http://127.0.0.1:9/x"\ndeadline_s = 0\n'
    )
    proc = cli(
        "notify",
        "--incident",
        "INC-x",
        "--template",
        "progress",
        "--target",
        str(target),
        "--archive",
        str(tmp_path / "a"),
    )
    assert (
        proc.returncode == 2 and "deadline_s" in proc.stderr and len(proc.stderr.splitlines()) == 1
    )
