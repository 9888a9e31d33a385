"""The foreign profile's venv: the cached site linked into each workspace's own venv."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from runbook_lib.sandbox.venv import link_tree


def make_site(root: Path) -> Path:
    site = root / "site"
    (site / "pkg" / "bin").mkdir(parents=True)
    (site / "pkg" / "__init__.py").write_text("VERSION = '1'\n")
    (site / "pkg" / "bin" / "tool").write_text("data, not a script\n")
    (site / "bin").mkdir()
    (site / "bin" / "pytest").write_text("#!/some/other/python\n")
    return site


def test_files_are_hard_linked_and_the_scripts_of_another_python_left_out(tmp_path: Path) -> None:
    site = make_site(tmp_path)
    dest = tmp_path / "venv-site"
    link_tree(site, dest)
    linked = dest / "pkg" / "__init__.py"
    assert linked.stat().st_ino == (site / "pkg" / "__init__.py").stat().st_ino
    assert (dest / "pkg" / "bin" / "tool").is_file()  # only the top-level bin is scripts
    assert not (dest / "bin").exists()
    (site / "pkg" / "__init__.py").unlink()  # the cache emptied: the venv keeps its files
    assert linked.read_text() == "VERSION = '1'\n"


def test_across_file_systems_the_files_are_copied(tmp_path: Path) -> None:
    shm = Path("/dev/shm")
    if not shm.is_dir() or shm.stat().st_dev == tmp_path.stat().st_dev:
        pytest.skip("no second file system (/dev/shm) beside the temporary directory")
    site = make_site(tmp_path)
    with tempfile.TemporaryDirectory(dir=shm) as other:
        dest = Path(other) / "venv-site"
        link_tree(site, dest)
        copied = dest / "pkg" / "__init__.py"
        assert copied.read_text() == "VERSION = '1'\n"
        assert os.stat(copied).st_dev != (site / "pkg" / "__init__.py").stat().st_dev
