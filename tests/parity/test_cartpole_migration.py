"""A public migration nobody here wrote: CartPole-v1 under gymnasium 0.29.1 against 1.x.

The legacy side runs in a venv with gymnasium 0.29.1 from the package index
(built once under ~/.cache/runbook/venvs/), the candidate in runbook's own
interpreter (gymnasium 1.x); parity runs through the installed CLI.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.runutil import cli

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "cartpole_migration"
VENV = Path.home() / ".cache" / "runbook" / "venvs" / "gym0291-py311"

pytestmark = pytest.mark.slow


def legacy_python() -> Path:
    """The gymnasium 0.29.1 interpreter; the test is skipped when it cannot be built."""
    python = VENV / "bin" / "python"
    probe = [str(python), "-c", "import gymnasium; assert gymnasium.__version__ == '0.29.1'"]
    if python.is_file() and subprocess.run(probe, check=False).returncode == 0:
        return python
    shutil.rmtree(VENV, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    pip = [str(VENV / "bin" / "pip"), "install", "-q", "gymnasium==0.29.1", "numpy<2"]
    done = subprocess.run(pip, capture_output=True, text=True, check=False, timeout=280)
    if done.returncode != 0:
        pytest.skip(f"cannot install gymnasium 0.29.1 from the package index: {done.stderr[-200:]}")
    return python


def make_target(tmp_path: Path, legacy: Path) -> Path:
    root = tmp_path / "cartpole"
    shutil.copytree(EXAMPLE, root)
    manifest = root / "runbook.toml"
    text = manifest.read_text(encoding="utf-8")
    text = text.replace('python = ".venv-gym029/bin/python"', f'python = "{legacy}"')
    text = text.replace(
        'env_type = "gymnasium-1.x"', f'env_type = "gymnasium-1.x"\npython = "{sys.executable}"'
    )
    manifest.write_text(text, encoding="utf-8")
    git = ["git", "-c", "user.email=t@example.com", "-c", "user.name=t"]
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)
    subprocess.run([*git, "commit", "-qm", "cartpole"], cwd=root, check=True)
    return root


def test_cartpole_across_gymnasium_releases(tmp_path: Path) -> None:
    root = make_target(tmp_path, legacy_python())
    archive = tmp_path / "archive"
    opened = cli(
        "incident",
        "open",
        "--title",
        "cartpole",
        "--severity",
        "low",
        "--kind",
        "result-difference",
        "--archive",
        str(archive),
        "--json",
        cwd=root,
    )
    assert opened.returncode == 0, opened.stderr
    incident = json.loads(opened.stdout)["id"]
    ran = cli(
        "parity", "--incident", incident, "--archive", str(archive), "--episodes", "5", cwd=root
    )
    data = json.loads((archive / "incidents" / incident / "parity.json").read_text())
    # Every step agrees, but 1.x declares the velocities' bounds as inf (0.29.1: float32 max):
    # a space difference, reported and deciding before any episode counts.
    assert data["step_agreement"] == 1.0 and data["first_divergence"] is None
    assert data["deciding_rule"] == "spaces" and data["verdict"] == "FAIL"
    assert "observation_space high differs" in data["space_differences"]
    assert ran.returncode == 1 and "spaces differ" in ran.stderr
    assert data["envs"]["legacy"]["class"] == data["envs"]["candidate"]["class"] == "CartPoleEnv"
