from __future__ import annotations

import os
from pathlib import Path

import pytest

from runbook_lib.base import fsutil


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
