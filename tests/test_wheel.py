"""The package as a user installs it: a wheel, in a fresh venv, running a drill.

The venv borrows the dependencies of the running one through a ``.pth`` file
(torch and the rest are not downloaded again); ``runbook_lib`` itself, its
notebooks and templates come from the wheel only.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def build_wheel(out: Path) -> Path:
    if importlib.util.find_spec("build") is not None:
        command = [sys.executable, "-m", "build", "--wheel", "--no-isolation", "-o", str(out)]
    else:  # the same backend through pip, where the dev extra is not installed yet
        command = [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(out),
        ]
    # From a copy: building writes build/ and *.egg-info next to the sources.
    source = out / "src"
    subprocess.run(["cp", "-r", str(ROOT), str(source)], check=True)
    for leftover in ("build", "dist", "outputs", ".venv"):
        subprocess.run(["rm", "-rf", str(source / leftover)], check=True)
    proc = subprocess.run(
        [*command, str(source)], capture_output=True, text=True, check=False, timeout=600
    )
    assert proc.returncode == 0, proc.stderr
    assert "would be ignored" not in proc.stdout + proc.stderr
    (wheel,) = out.glob("*.whl")
    return wheel


@pytest.mark.slow
def test_wheel_installs_and_runs_a_drill(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path)
    assert wheel.name.startswith("rl_runbook-")
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    (site / "borrowed.pth").write_text(sysconfig.get_path("purelib") + "\n")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--no-deps",
            "--no-index",
            "--quiet",
            str(wheel),
        ],
        check=True,
        timeout=300,
    )
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHONPATH", "RUNBOOK_ARCHIVE", "RUNBOOK_TARGET")
    }
    # The borrowed packages' data files (nbconvert's templates, the kernel spec) stay where
    # the running venv installed them; a real install puts them in its own share/jupyter.
    env["JUPYTER_PATH"] = str(Path(sys.prefix) / "share" / "jupyter")
    where = subprocess.run(
        [str(python), "-c", "import runbook_lib; print(runbook_lib.__file__)"],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        cwd=tmp_path,
    )
    assert where.stdout.startswith(str(site)), where.stdout
    drill = subprocess.run(
        [
            str(env_dir / "bin" / "runbook"),
            "drill",
            "--scenario",
            "crash",
            "--archive",
            str(tmp_path / "archive"),
            "--episodes",
            "2",
        ],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        cwd=tmp_path,
        timeout=900,
    )
    assert drill.returncode == 0, drill.stdout + drill.stderr
    assert "(verified)" in drill.stdout
