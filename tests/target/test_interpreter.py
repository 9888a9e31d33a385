"""``[target] python``: which interpreter runs the target's code, and bad values of it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from runbook_lib.base.errors import InvalidInputError
from runbook_lib.target.interpreter import probe_interpreter, target_interpreter
from runbook_lib.target.manifest import load_manifest
from runbook_lib.target.worker.envworker import PROTOCOL


def shim(path: Path, python: str) -> None:
    """An executable that runs ``python`` (a symlink would leave runbook's venv)."""
    path.write_text(f'#!/bin/sh\nexec "{python}" "$@"\n', encoding="utf-8")
    path.chmod(0o755)


def manifest_at(root: Path, python: str | None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    line = f'python = "{python}"\n' if python is not None else ""
    (root / "runbook.toml").write_text(
        f'[target]\nname = "t"\n{line}\n[git]\nstable_ref = "v1"\n', encoding="utf-8"
    )
    return root


def test_declared_python_is_used(tmp_path: Path) -> None:
    root = manifest_at(tmp_path / "t", "bin/py")
    (root / "bin").mkdir()
    shim(root / "bin" / "py", sys.executable)
    found = target_interpreter(load_manifest(root))
    assert found.path == root / "bin" / "py" and found.origin == "manifest"
    assert found.notice is None
    assert probe_interpreter(found, root)["protocol"] == PROTOCOL


def test_default_is_the_targets_venv_then_runbooks_with_a_notice(tmp_path: Path) -> None:
    root = manifest_at(tmp_path / "t", None)
    fallback = target_interpreter(load_manifest(root))
    assert fallback.origin == "runbook" and fallback.path == Path(sys.executable)
    assert fallback.notice is not None and str(root) in fallback.notice
    (root / ".venv" / "bin").mkdir(parents=True)
    shim(root / ".venv" / "bin" / "python", sys.executable)
    assert target_interpreter(load_manifest(root)).origin == "venv"


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        ("missing", "does not exist"),
        ("not-executable", "is not an executable file"),
        ("directory", "is not an executable file"),
    ],
)
def test_bad_declared_python_names_the_path(tmp_path: Path, setup: str, expected: str) -> None:
    root = manifest_at(tmp_path / "t", "py")
    if setup == "not-executable":
        (root / "py").write_text("#!/bin/sh\n")
    elif setup == "directory":
        (root / "py").mkdir()
    with pytest.raises(InvalidInputError) as caught:
        target_interpreter(load_manifest(root))
    assert str(caught.value).startswith(f"[target] python {root / 'py'} {expected}")


def test_python_outside_the_root_is_refused(tmp_path: Path) -> None:
    root = manifest_at(tmp_path / "t", "../py")
    with pytest.raises(InvalidInputError, match="relative to the target's root"):
        load_manifest(root)


def test_an_interpreter_without_gymnasium_names_the_path(tmp_path: Path) -> None:
    bare = Path("/usr/bin/python3")
    has = subprocess.run([str(bare), "-c", "import gymnasium"], capture_output=True, check=False)
    if not bare.exists() or has.returncode == 0:
        pytest.skip("needs an interpreter without gymnasium")
    root = manifest_at(tmp_path / "t", "py")
    (root / "py").symlink_to(bare)
    found = target_interpreter(load_manifest(root))
    with pytest.raises(InvalidInputError) as caught:
        probe_interpreter(found, root)
    assert str(caught.value).startswith(f"[target] python {root / 'py'} has no gymnasium")
    assert "\n" not in str(caught.value)
