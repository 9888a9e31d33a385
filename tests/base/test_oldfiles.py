from __future__ import annotations

import os
import time
from pathlib import Path

from runbook_lib.base import fsutil, oldfiles
from runbook_lib.base.durable import DurableGroup


def _open_fds() -> set[int]:
    return {int(name) for name in os.listdir("/proc/self/fd")}


def _closed(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return True
    return False


def _wait_until_closed(fds: list[int]) -> list[int]:
    """The descriptors still open once the closer thread had up to 10 s to close them."""
    deadline = time.monotonic() + 10.0
    while time.monotonic() < deadline and not all(_closed(fd) for fd in fds):
        time.sleep(0.01)
    return [fd for fd in fds if not _closed(fd)]


def test_a_held_file_keeps_its_old_content_after_the_rename(tmp_path: Path) -> None:
    path = tmp_path / "manifest.json"
    path.write_text("old")
    fd = oldfiles.hold(path)
    assert fd is not None
    fsutil.atomic_write_text(path, "new")
    assert path.read_text() == "new"
    assert os.pread(fd, 10, 0) == b"old"  # the same inode, still alive while held
    oldfiles.let_go(fd)
    assert _wait_until_closed([fd]) == []


def test_nothing_to_hold_gives_none(tmp_path: Path) -> None:
    assert oldfiles.hold(tmp_path / "missing") is None
    (tmp_path / "real").write_text("x")
    (tmp_path / "link").symlink_to(tmp_path / "real")
    assert oldfiles.hold(tmp_path / "link") is None  # never what a final symlink names
    os.mkfifo(tmp_path / "fifo")
    fifo = oldfiles.hold(tmp_path / "fifo")  # opened without waiting for a writer
    assert fifo is not None
    oldfiles.let_go(fifo)
    oldfiles.let_go(None)
    assert _wait_until_closed([fifo]) == []


def test_replacing_and_removing_many_files_leaks_no_descriptor(tmp_path: Path) -> None:
    files = [tmp_path / f"{n}.json" for n in range(20)]
    for path in files:
        path.write_text("first")
    before = _open_fds()
    for round_ in range(5):
        with DurableGroup() as group:
            for path in files[:10]:
                group.add(path, f"round {round_}".encode())
            if round_ == 4:
                for path in files[10:]:
                    group.remove(path)
    deadline = time.monotonic() + 10.0
    while time.monotonic() < deadline and _open_fds() - before:
        time.sleep(0.01)
    assert _open_fds() - before == set()
    assert [p.read_text() for p in files[:10]] == ["round 4"] * 10
    assert not any(p.exists() for p in files[10:])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in files[:10])
