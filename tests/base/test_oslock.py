"""The flock locks' probe: who holds a lock now, without keeping or creating it."""

from __future__ import annotations

from pathlib import Path

from runbook_lib.base.oslock import FileLock, held_elsewhere


def test_a_missing_lock_file_is_not_held_and_the_probe_does_not_create_it(tmp_path: Path) -> None:
    path = tmp_path / "lock"
    assert not held_elsewhere(path)
    assert not path.exists()


def test_the_probe_sees_another_holder_and_leaves_it_the_lock(tmp_path: Path) -> None:
    path = tmp_path / "lock"
    holder = FileLock(path, blocking=False)
    with holder:
        assert held_elsewhere(path)
        assert holder.is_locked
    assert not held_elsewhere(path)
    with FileLock(path, blocking=False):  # the probe gave the lock back
        pass
