from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from runbook_lib.base.errors import EXIT_LOCK_HELD, InvalidInputError, LockHeldError
from runbook_lib.rollback.lock import HOLDER_FILE, LOCK_DIR, TargetLock, lock_status, read_holder

CONTENDER = """
import sys, time
from pathlib import Path
from runbook_lib.base.errors import LockHeldError
from runbook_lib.rollback.lock import TargetLock

def wait_for(path):
    deadline = time.monotonic() + 60
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.002)

target, incident, flags = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
(flags / f"ready-{incident}").touch()
wait_for(flags / "go")
try:
    with TargetLock(target, incident=incident, command="contender"):
        print("acquired", flush=True)
        wait_for(flags / "release")
except LockHeldError as err:
    print(f"runbook: error: {err}", file=sys.stderr)
    sys.exit(err.exit_code)
"""

DIES_HOLDING = """
import os, signal, sys
from pathlib import Path
from runbook_lib.rollback.lock import TargetLock

TargetLock(Path(sys.argv[1]), incident=sys.argv[2], command="doomed").acquire()
print(os.getpid(), flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def contender(target: Path, incident: str, flags: Path) -> subprocess.Popen[str]:
    args = [sys.executable, "-c", CONTENDER, str(target), incident, str(flags)]
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for(path: Path) -> None:
    deadline = time.monotonic() + 60
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.01)


def test_exactly_one_of_two_processes_gets_the_lock(tmp_path: Path) -> None:
    target, flags = tmp_path / "target", tmp_path / "flags"
    target.mkdir()
    flags.mkdir()
    incidents = ["INC-20261123-0612-aaaa", "INC-20261123-0612-bbbb"]
    procs = {incident: contender(target, incident, flags) for incident in incidents}
    for incident in incidents:
        wait_for(flags / f"ready-{incident}")
    (flags / "go").touch()
    # The loser exits at once; the winner holds the lock until told to release it.
    loser = None
    deadline = time.monotonic() + 60
    while loser is None and time.monotonic() < deadline:
        loser = next((i for i, p in procs.items() if p.poll() is not None), None)
        time.sleep(0.01)
    assert loser is not None
    (flags / "release").touch()
    results = {i: (*p.communicate(timeout=60), p.returncode, p.pid) for i, p in procs.items()}
    winner = next(i for i in incidents if i != loser)
    out, _, code, winner_pid = results[winner]
    assert (code, out) == (0, "acquired\n"), results
    _, message, code, _ = results[loser]
    assert code == EXIT_LOCK_HELD, results
    assert message.count("\n") == 1 and "Traceback" not in message
    assert f"pid {winner_pid}" in message and winner in message
    assert not (target / LOCK_DIR / HOLDER_FILE).exists()  # the winner cleaned up


def test_dead_holder_is_reported_stale_and_the_lock_is_taken(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", DIES_HOLDING, str(tmp_path), "INC-20261123-0612-dead"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert proc.returncode == -signal.SIGKILL
    dead_pid = int(proc.stdout)
    status = lock_status(tmp_path)
    assert (status.held, status.stale) == (False, True)
    assert status.holder is not None and status.holder.pid == dead_pid
    with TargetLock(tmp_path, incident="INC-20261123-0612-live", command="test") as acquired:
        assert acquired.stale is not None and acquired.stale.pid == dead_pid
        assert acquired.stale.incident == "INC-20261123-0612-dead"
        assert acquired.stale_alive is False
        holder = read_holder(tmp_path)
        assert holder is not None and holder.pid == os.getpid()
        assert acquired.to_dict()["stale"]["pid"] == dead_pid
    assert read_holder(tmp_path) is None and lock_status(tmp_path).stale is False


def test_second_holder_in_one_process_fails_at_once(tmp_path: Path) -> None:
    first = TargetLock(tmp_path, incident="INC-20261123-0612-0001", command="apply")
    acquired = first.acquire()
    assert first.held and acquired.stale is None
    with pytest.raises(LockHeldError) as info:
        TargetLock(tmp_path, command="undo").acquire()
    assert info.value.exit_code == EXIT_LOCK_HELD
    assert f"pid {os.getpid()}" in str(info.value) and "INC-20261123-0612-0001" in str(info.value)
    status = lock_status(tmp_path)
    assert status.held and status.holder is not None and status.holder.command == "apply"
    first.release()
    first.release()  # a second release is harmless
    assert not first.held and not lock_status(tmp_path).held


def test_holder_without_sidecar_is_still_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from filelock import FileLock

    monkeypatch.setattr("runbook_lib.rollback.lock._NAMING_WAIT_S", 0.1)
    (tmp_path / LOCK_DIR).mkdir()
    raw = FileLock(tmp_path / LOCK_DIR / "lock")
    with raw, pytest.raises(LockHeldError, match="has not named itself yet"):
        TargetLock(tmp_path).acquire()


def test_target_must_be_a_directory(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="is not a directory"):
        TargetLock(tmp_path / "missing").acquire()
    assert not (tmp_path / "missing").exists()


def test_process_start_from_proc_is_psutils_create_time() -> None:
    import os

    import psutil

    from runbook_lib.rollback.lock import _process_start

    started = _process_start(os.getpid())
    assert started is not None and abs(started - psutil.Process().create_time()) < 0.05
