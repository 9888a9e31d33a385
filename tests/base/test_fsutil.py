from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from runbook_lib.base import durable, fsutil


def test_atomic_write_replaces_content_and_keeps_mode(tmp_path: Path) -> None:
    target = tmp_path / "config.ini"
    target.write_text("old")
    os.chmod(target, 0o600)
    fsutil.atomic_write_text(target, "new")
    assert target.read_text() == "new"
    assert target.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["config.ini"]


def test_atomic_write_failure_leaves_old_content(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "model.zip"
    target.write_bytes(b"stable")

    def broken_replace(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        fsutil.atomic_write_bytes(target, b"half")
    assert target.read_bytes() == b"stable"
    assert [p.name for p in tmp_path.iterdir()] == ["model.zip"]


def test_sha256_file_matches_bytes(tmp_path: Path) -> None:
    data = os.urandom(3 * (1 << 20) + 7)
    path = tmp_path / "blob"
    path.write_bytes(data)
    assert fsutil.sha256_file(path) == fsutil.sha256_bytes(data)


def test_tree_hash_sees_content_names_modes_and_new_files(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "f.py").write_text("x = 1\n")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "index").write_text("ignored")
    base = fsutil.tree_hash(tmp_path)

    (tmp_path / ".git" / "index").write_text("changed")
    assert fsutil.tree_hash(tmp_path) == base

    (tmp_path / "a" / "f.py").write_text("x = 2\n")
    assert fsutil.tree_hash(tmp_path) != base
    (tmp_path / "a" / "f.py").write_text("x = 1\n")
    assert fsutil.tree_hash(tmp_path) == base

    os.chmod(tmp_path / "a" / "f.py", 0o755)
    assert fsutil.tree_hash(tmp_path) != base
    os.chmod(tmp_path / "a" / "f.py", 0o644)

    (tmp_path / "untracked.txt").write_text("")
    assert fsutil.tree_hash(tmp_path) != base


def test_atomic_write_many_writes_keeps_modes_removes_and_flushes_each_dir_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "sub").mkdir()
    kept = tmp_path / "a.json"
    kept.write_text("old")
    os.chmod(kept, 0o600)
    stale = tmp_path / "stale.json"
    stale.write_text("gone")
    flushed: list[Path] = []
    real_fsync_dir = durable.fsync_dir

    def spying_fsync_dir(path: Path) -> None:
        flushed.append(path)
        real_fsync_dir(path)

    monkeypatch.setattr(durable, "fsync_dir", spying_fsync_dir)
    fsutil.atomic_write_many(
        [(kept, b"new"), (tmp_path / "b.json", b"b"), (tmp_path / "sub" / "c.json", b"c")],
        remove=[stale, tmp_path / "never-there"],
    )
    assert kept.read_bytes() == b"new" and kept.stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "b.json").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "sub" / "c.json").read_bytes() == b"c"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "b.json", "sub"]
    assert flushed == [tmp_path, tmp_path / "sub"]


def test_atomic_write_many_flushes_every_file_before_any_rename(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    events: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace

    def spying_fsync(fd: int) -> None:
        events.append("fsync")
        real_fsync(fd)

    def spying_replace(source: Path, destination: Path) -> None:
        events.append(f"rename {Path(destination).name}")
        real_replace(source, destination)

    def spying_fsync_dir(path: Path) -> None:
        events.append("dir")

    monkeypatch.setattr(os, "fsync", spying_fsync)
    monkeypatch.setattr(os, "replace", spying_replace)
    monkeypatch.setattr(durable, "fsync_dir", spying_fsync_dir)
    fsutil.atomic_write_many([(tmp_path / "one", b"1"), (tmp_path / "two", b"2")])
    assert events == ["fsync", "fsync", "rename one", "rename two", "dir"]


def test_atomic_write_many_failure_leaves_old_content_and_no_temporaries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    first.write_bytes(b"old first")
    second.write_bytes(b"old second")

    def broken_fsync(fd: int) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="disk full"):
        fsutil.atomic_write_many([(first, b"new"), (second, b"new")])
    assert (first.read_bytes(), second.read_bytes()) == (b"old first", b"old second")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["first", "second"]


def test_atomic_writer_replaces_on_success_and_keeps_the_old_file_on_error(tmp_path: Path) -> None:
    target = tmp_path / "report.tar.gz"
    target.write_bytes(b"old")
    with fsutil.atomic_writer(target, mode=0o640) as handle:
        handle.write(b"new ")
        handle.write(b"content")
        assert target.read_bytes() == b"old"
    assert target.read_bytes() == b"new content"
    assert target.stat().st_mode & 0o777 == 0o640
    with pytest.raises(RuntimeError, match="tar failed"), fsutil.atomic_writer(target) as handle:
        handle.write(b"half")
        raise RuntimeError("tar failed")
    assert target.read_bytes() == b"new content"
    assert [p.name for p in tmp_path.iterdir()] == ["report.tar.gz"]


def test_group_flushed_in_background_renames_only_at_the_end_of_the_block(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    events: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace

    def spying_fsync(fd: int) -> None:
        events.append("fsync")
        real_fsync(fd)

    def spying_replace(source: Path, destination: Path) -> None:
        events.append(f"rename {Path(destination).name}")
        real_replace(source, destination)

    monkeypatch.setattr(os, "fsync", spying_fsync)
    monkeypatch.setattr(os, "replace", spying_replace)
    monkeypatch.setattr(durable, "fsync_dir", lambda path: events.append("dir"))
    with durable.DurableGroup() as group:
        group.add(tmp_path / "manifest", b"m")
        group.add(tmp_path / "envelope", b"e")
        group.flush_in_background()
        assert not (tmp_path / "manifest").exists()
        group.add(tmp_path / "proof", b"p")
    assert events[:3] == ["fsync"] * 3
    assert events[3:] == ["rename manifest", "rename envelope", "rename proof", "dir"]
    assert [(tmp_path / n).read_bytes() for n in ("manifest", "envelope", "proof")] == [
        b"m",
        b"e",
        b"p",
    ]


def test_group_with_an_error_after_a_background_flush_changes_nothing(tmp_path: Path) -> None:
    kept = tmp_path / "manifest"
    kept.write_bytes(b"sealed")
    with pytest.raises(OSError, match="index locked"), durable.DurableGroup() as group:
        group.add(kept, b"new")
        group.flush_in_background()
        raise OSError("index locked")
    assert kept.read_bytes() == b"sealed"
    assert [p.name for p in tmp_path.iterdir()] == ["manifest"]


def test_group_that_cannot_flush_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kept = tmp_path / "manifest"
    kept.write_bytes(b"sealed")

    def broken_fsync(fd: int) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="disk full"), durable.DurableGroup() as group:
        group.add(kept, b"new")
        group.flush_in_background()
        group.add(tmp_path / "proof", b"p")
    assert kept.read_bytes() == b"sealed"
    assert [p.name for p in tmp_path.iterdir()] == ["manifest"]


def test_every_file_of_a_group_is_flushed_however_often_flushing_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    flushed: list[int] = []
    real_fsync = os.fsync

    def counting_fsync(fd: int) -> None:
        flushed.append(fd)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", counting_fsync)
    monkeypatch.setattr(durable, "fsync_dir", lambda path: None)
    with durable.DurableGroup() as group:
        group.add(tmp_path / "one", b"1")
        group.flush_in_background()
        group.add(tmp_path / "two", b"2")
        group.flush_in_background()
        group.flush_in_background()
        group.add(tmp_path / "three", b"3")
    assert len(flushed) == len(set(flushed)) == 3


def test_a_background_flush_flushes_its_files_side_by_side(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The two files' fsyncs and the caller meet: one fsync after the other never would.
    met = threading.Barrier(3, timeout=20)
    real_fsync = os.fsync
    calls: list[int] = []

    def meeting_fsync(fd: int) -> None:
        calls.append(fd)
        if len(calls) <= 2:
            met.wait()
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", meeting_fsync)
    with durable.DurableGroup() as group:
        group.add(tmp_path / "manifest", b"m")
        group.add(tmp_path / "envelope", b"e")
        group.flush_in_background()
        met.wait()
        group.add(tmp_path / "proof", b"p")
    assert not met.broken and len(set(calls[:3])) == 3  # then the directory
    assert [(tmp_path / n).read_bytes() for n in ("manifest", "envelope", "proof")] == [
        b"m",
        b"e",
        b"p",
    ]


def test_background_flushes_start_no_thread_once_their_flushers_exist(tmp_path: Path) -> None:
    def flushers() -> int:
        return sum(thread.name == "runbook-flush" for thread in threading.enumerate())

    counts = []
    for _seal in range(3):
        with durable.DurableGroup() as group:
            group.add(tmp_path / "manifest", b"m")
            group.add(tmp_path / "envelope", b"e")
            group.flush_in_background()
            group.add(tmp_path / "proof", b"p")
        counts.append(flushers())
    assert counts[0] >= 2 and counts[1:] == [counts[0]] * 2
