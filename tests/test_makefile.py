"""``make``'s set-up stage is quiet: one line, pip's output in a log shown only on failure.

A stand-in interpreter plays python and pip (noisy, as pip is), so no package is installed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FAKE_PYTHON = """#!/bin/sh
# -m venv DIR: make DIR/bin/python (this script); -m pip: 60 lines of noise.
if [ "$1 $2" = "-m venv" ]; then mkdir -p "$3/bin" && cp "$0" "$3/bin/python"; exit 0; fi
if [ "$1 $2" = "-m pip" ]; then
    i=0; while [ $i -lt 60 ]; do echo "Collecting package-$i"; i=$((i+1)); done
    [ -n "$FAKE_PIP_FAIL" ] && { echo "ERROR: no matching distribution for torch" >&2; exit 1; }
fi
exit 0
"""


def _make(tmp_path: Path, fail: bool) -> subprocess.CompletedProcess[str]:
    for name in ("Makefile", "pyproject.toml", "environment.yml"):
        if not (tmp_path / name).exists():  # a fresh copy would be newer than the stamp
            shutil.copy(ROOT / name, tmp_path / name)
    fake = tmp_path / "fake-python"
    fake.write_text(FAKE_PYTHON)
    fake.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAKE")}
    if fail:
        env["FAKE_PIP_FAIL"] = "1"
    return subprocess.run(
        ["make", "--no-print-directory", "bytecode", f"PYTHON={fake}"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_setup_prints_one_line_and_keeps_pip_in_a_log(tmp_path: Path) -> None:
    done = _make(tmp_path, fail=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines() == [
        "set-up: installing the dependencies into .venv (a few minutes on a fresh machine)"
    ]
    assert done.stderr == ""
    log = (tmp_path / "outputs" / "setup.log").read_text()
    assert log.count("Collecting package-") == 180  # pip itself, torch, the project
    again = _make(tmp_path, fail=False)  # warm: nothing to install, nothing printed
    assert again.stdout == "" and again.returncode == 0


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_failed_setup_names_the_log_and_shows_its_end(tmp_path: Path) -> None:
    done = _make(tmp_path, fail=True)
    assert done.returncode != 0
    assert "set-up failed; pip's output is in outputs/setup.log" in done.stdout
    assert "ERROR: no matching distribution for torch" in done.stdout
    assert len(done.stdout.splitlines()) <= 20
