"""The foreign reference target: its own venv, a config loader, Dict observations.

One workspace is made through the CLI (``runbook sandbox create DIR --profile
foreign``) for the module; the tests run its interpreter, its tests and the
parity CLI on it, and check that runbook's own process never imports it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from runbook_lib.target.manifest import load_manifest
from tests.runutil import cli, open_incident_cli

FOREIGN_PACKAGE = "lightpath"
# Making the workspace installs torch into its venv: minutes on a loaded machine.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1500)]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dest = tmp_path_factory.mktemp("foreign") / "ws"
    done = cli("sandbox", "create", str(dest), "--profile", "foreign", "--json", timeout=1800)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["profile"] == "foreign"
    return dest


def venv_python(root: Path) -> Path:
    return root / ".venv" / "bin" / "python"


def copy_workspace(workspace: Path, dest: Path) -> Path:
    """A copy of ``workspace`` a test may change, its venv's files hard-linked.

    The venv holds about a gigabyte of installed packages that no test writes to
    (Python replaces a stale ``.pyc`` rather than writing into it), so they are
    linked, as ``sandbox create`` links them from its cache; everything else is
    copied, and the copy's directories are its own.
    """
    top = workspace / ".venv"
    shutil.copytree(
        workspace,
        dest,
        symlinks=True,
        ignore=lambda here, names: [".venv"] if Path(here) == workspace else [],
    )
    shutil.copytree(top, dest / ".venv", symlinks=True, copy_function=os.link)
    return dest


def run_in(root: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(venv_python(root)), *argv],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )


def test_git_history_has_both_releases_and_a_clean_tree(workspace: Path) -> None:
    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=workspace, capture_output=True, text=True, check=True
        ).stdout

    assert git("tag").split() == ["v1.0", "v2.0"]
    assert git("status", "--porcelain") == ""
    assert "UnifiedRoutingEnv" not in git("show", "v1.0:lightpath/envs/__init__.py")


def test_the_venv_pins_the_targets_own_versions(workspace: Path) -> None:
    code = "import gymnasium, numpy, stable_baselines3, torch; print(gymnasium.__version__, "
    code += "stable_baselines3.__version__, numpy.__version__, torch.__version__)"
    done = run_in(workspace, "-c", code)
    assert done.returncode == 0, done.stderr
    gym, sb3, numpy, torch = done.stdout.split()
    assert (gym, sb3) == ("0.29.1", "2.2.1")
    assert int(numpy.split(".")[0]) < 2 and torch.startswith("2.13.0")


def test_runbook_never_imports_the_target_and_the_worker_sees_gymnasium_0_29_1(
    workspace: Path,
) -> None:
    from runbook_lib.parity.inputs import spec_from_manifest
    from runbook_lib.parity.remote import probe_envs
    from runbook_lib.target.interpreter import probe_interpreter, target_interpreter

    manifest = load_manifest(workspace)
    found = target_interpreter(manifest)
    assert found.path == venv_python(workspace) and found.origin == "manifest"
    assert probe_interpreter(found, workspace)["gymnasium"] == "0.29.1"
    envs = probe_envs(
        spec_from_manifest(manifest, [0]), manifest.env.logger if manifest.env else None
    )
    assert envs["candidate"]["unwrapped"].endswith("UnifiedRoutingEnv")
    assert envs["candidate"]["wrappers"] == ["lightpath.envs.masking.ActionMaskWrapper"]
    assert envs["legacy"]["unwrapped"].endswith("LegacyRoutingEnv")
    space = envs["legacy"]["observation_space"]
    assert space["type"] == "Dict" and len(space["spaces"]) >= 5
    kinds = {sub["type"] for _, sub in space["spaces"]}
    dtypes = {sub["dtype"] for _, sub in space["spaces"]}
    assert "MultiDiscrete" in kinds and len(dtypes) >= 3
    assert not [name for name in sys.modules if name.split(".")[0] == FOREIGN_PACKAGE]


def test_the_factory_needs_the_projects_config_object(workspace: Path) -> None:
    done = run_in(
        workspace, "-c", "from lightpath.envs import create_sim_env; create_sim_env(None)"
    )
    assert "needs an ExperimentConfig" in done.stderr
    manifest = load_manifest(workspace)
    assert manifest.env is not None and manifest.env.config is not None
    assert manifest.env.config.factory_config(workspace) == {
        "loader": "lightpath.config:load_config",
        "file": str(workspace / "experiment.ini"),
    }
    assert manifest.env.factory_kwargs == {"num_requests": 100}


def test_the_targets_own_tests_pass_in_its_venv(workspace: Path) -> None:
    done = run_in(workspace, "-m", "pytest", "-q", "tests")
    assert done.returncode == 0, done.stdout[-2000:]


def test_legacy_env_fails_under_ppo_and_trains_with_the_bandit(workspace: Path) -> None:
    ppo = run_in(workspace, "scripts/train.py", "--algo", "ppo", "--env-type", "legacy")
    assert ppo.returncode != 0 and "cannot carry the request" in ppo.stderr
    bandit = run_in(workspace, "scripts/train.py", "--algo", "bandit", "--env-type", "legacy")
    assert bandit.returncode == 0, bandit.stderr
    unified = run_in(workspace, "scripts/train.py", "--algo", "ppo", "--env-type", "unified")
    assert unified.returncode == 0, unified.stderr


def test_parity_passes_on_the_foreign_target(workspace: Path, tmp_path: Path) -> None:
    archive = str(tmp_path / "archive")
    incident = open_incident_cli(archive, workspace)
    done = cli(
        "parity", "--incident", incident, "--episodes", "3", "--archive", archive, cwd=workspace
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "100.00% of steps identical" in done.stdout
    assert "LegacyRoutingEnv (legacy) vs UnifiedRoutingEnv (unified)" in done.stdout


@pytest.mark.parametrize("setup", ["missing", "not-executable", "no-gymnasium"])
def test_a_bad_target_python_is_one_line_exit_2(
    workspace: Path, tmp_path: Path, setup: str
) -> None:
    bare = Path("/usr/bin/python3")
    if setup == "no-gymnasium":
        has = subprocess.run(
            [str(bare), "-c", "import gymnasium"], capture_output=True, check=False
        )
        if not bare.exists() or has.returncode == 0:
            pytest.skip("needs an interpreter without gymnasium")
    root = tmp_path / "target"
    shutil.copytree(workspace, root, symlinks=True, ignore=shutil.ignore_patterns(".venv"))
    if setup == "not-executable":
        (root / "py").write_text("#!/bin/sh\n", encoding="utf-8")
    elif setup == "no-gymnasium":
        (root / "py").symlink_to(bare)
    manifest = root / "runbook.toml"
    text = manifest.read_text(encoding="utf-8").replace(
        'python = ".venv/bin/python"', 'python = "py"'
    )
    manifest.write_text(text, encoding="utf-8")
    archive = str(tmp_path / "archive")
    incident = open_incident_cli(archive, tmp_path)
    before = sorted((p.relative_to(root), p.stat().st_mtime_ns) for p in root.rglob("*"))
    done = cli("parity", "--incident", incident, "--episodes", "2", "--archive", archive, cwd=root)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and str(root / "py") in lines[0] and "Traceback" not in done.stderr
    assert sorted((p.relative_to(root), p.stat().st_mtime_ns) for p in root.rglob("*")) == before


def test_the_venv_still_works_after_the_workspace_moves(workspace: Path, tmp_path: Path) -> None:
    moved = tmp_path / "moved"
    copy_workspace(workspace, moved)
    done = run_in(moved, "-c", "import sys, gymnasium; print(sys.prefix)")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(moved / ".venv")


@pytest.mark.parametrize(
    ("strategy", "missing"),
    [
        ("config", "lightpath.envs:create_sim_env does not read that key"),
        ("force", "lightpath/envs/__init__.py has no module constant _FORCE_LEGACY_ENV"),
    ],
)
def test_switches_the_target_does_not_honour_are_refused_at_plan_time(
    workspace: Path, tmp_path: Path, strategy: str, missing: str
) -> None:
    archive = str(tmp_path / "archive")
    incident = open_incident_cli(archive, workspace)
    done = cli(
        "rollback",
        "plan",
        "--incident",
        incident,
        "--strategy",
        strategy,
        "--archive",
        archive,
        cwd=workspace,
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and missing in lines[0]
    assert "strategies that work here: env-var, code" in lines[0]
    assert (
        subprocess.run(
            ["git", "status", "--porcelain"],
            cwd=workspace,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        == ""
    )


# The code rollback's checklist: the factory's default stays unified, only the call site moves.
ENV_CHECKS = ("check-env", "determinism", "training-smoke", "monitoring")


def test_the_env_checks_pass_in_the_targets_interpreter_after_a_code_rollback(
    workspace: Path, tmp_path: Path
) -> None:
    root = tmp_path / "target"
    copy_workspace(workspace, root)  # the rollback edits a copy, not the fixture
    archive = str(tmp_path / "archive")
    incident = open_incident_cli(archive, root)
    common = ("--incident", incident, "--archive", archive, "--target", str(root))
    planned = cli("rollback", "plan", *common, "--strategy", "code", "--json", cwd=root)
    assert planned.returncode == 0, planned.stderr
    sha = json.loads(planned.stdout)["sha256"]
    applied = cli("rollback", "apply", *common, "--plan", sha, "--yes", cwd=root)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    done = cli("verify", *common, "--checks", ",".join(ENV_CHECKS), cwd=root, timeout=900)
    saved = sorted((tmp_path / "archive" / "incidents" / incident / "checks").glob("verify-*"))
    checks = {c["name"]: c for c in json.loads(saved[-1].read_text(encoding="utf-8"))["checks"]}
    assert done.returncode == 0, done.stdout + done.stderr
    statuses = {name: check["status"] for name, check in checks.items()}
    assert "fail" not in statuses.values(), statuses
    assert statuses["determinism"] == "pass"
    assert "LegacyRoutingEnv" in checks["check-env"]["summary"]
    assert "UnifiedRoutingEnv" in checks["check-env"]["summary"]
    # The code rollback pins the call site: the training script runs the legacy env.
    assert "LegacyRoutingEnv (legacy)" in checks["training-smoke"]["summary"]
    assert checks["monitoring"]["evidence"]["timesteps"] >= 600
    assert not [name for name in sys.modules if name.split(".")[0] == FOREIGN_PACKAGE]


def test_readiness_rehearses_the_switches_the_target_really_has(
    workspace: Path, tmp_path: Path
) -> None:
    archive = str(tmp_path / "archive")
    strategies = [
        arg for name in ("env-var", "code", "config", "force") for arg in ("--strategy", name)
    ]
    target = ("--target", str(workspace), "--archive", archive)
    done = cli("readiness", *strategies, *target, "--json", cwd=workspace, timeout=900)
    assert done.returncode == 1, done.stderr  # config and force are declared but cannot work
    matrix = json.loads(done.stdout)
    rows = {row["strategy"]: row for row in matrix["strategies"]}
    # env-var and code: planned, applied, the legacy env proven built, tests passed, undone.
    for ready in ("env-var", "code"):
        cells = rows[ready]["cells"]
        assert rows[ready]["readiness"] == "ready", rows[ready]
        assert {cell["status"] for cell in cells.values()} == {"pass"}, cells
        assert "LegacyRoutingEnv" in cells["effect"]["reason"]
    # config and force: refused at plan time, with the exact reason, nothing else run.
    config, force = rows["config"], rows["force"]
    assert config["readiness"] == force["readiness"] == "not ready"
    assert "lightpath.envs:create_sim_env does not read that key" in config["reason"]
    assert "has no module constant _FORCE_LEGACY_ENV" in force["reason"]
    for refused in (config, force):
        later = [refused["cells"][phase]["status"] for phase in ("apply", "effect", "undo")]
        assert later == ["not run"] * 3
    tree = matrix["target_tree"]
    assert tree["before"] == tree["after"]
    status = subprocess.run(
        ["git", "status", "--porcelain"], cwd=workspace, capture_output=True, text=True, check=True
    )
    assert status.stdout == ""


def test_the_whole_drill_chain_runs_on_the_foreign_profile(tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    drill = ("drill", "--profile", "foreign", "--episodes", "2", "--archive", str(archive))
    done = cli(*drill, "--json", timeout=1500)
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(done.stdout)
    assert result["ok"], result
    assert [run["status"] for run in result["runs"]] == ["ok"] * len(result["runs"])
    assert len(result["runs"]) >= 5  # assessment, rollback, parity, verification, post-mortem
    assert not [name for name in sys.modules if name.split(".")[0] == FOREIGN_PACKAGE]


TRAIN_ON_UNIFIED = """
import sys
import torch
from stable_baselines3 import PPO
from lightpath.config import load_config
from lightpath.envs import create_sim_env
torch.set_num_threads(1)
env = create_sim_env(load_config("experiment.ini"), env_type="unified")
model = PPO("MultiInputPolicy", env, n_steps=64, batch_size=32, n_epochs=1, seed=0, device="cpu")
model.learn(total_timesteps=128)
model.save(sys.argv[1])
"""


def test_parity_passes_with_a_model_policy_kept_to_the_mask(
    workspace: Path, tmp_path: Path
) -> None:
    # A briefly trained PPO often prefers a path the request cannot take; the legacy
    # env raises for it, so the model acts within the env's action mask.
    model = tmp_path / "ppo_unified.zip"
    trained = run_in(workspace, "-c", TRAIN_ON_UNIFIED, str(model))
    assert trained.returncode == 0, trained.stderr
    archive = str(tmp_path / "archive")
    incident = open_incident_cli(archive, workspace)
    model_args = ("--policy", "model", "--model", str(model), "--algo", "PPO")
    common = ("--incident", incident, "--episodes", "2", "--archive", archive)
    done = cli("parity", *common, *model_args, cwd=workspace)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "results PASS" in done.stdout
    assert "100.00% of steps identical" in done.stdout


def _faulty_copy(workspace: Path, tmp_path: Path) -> Path:
    root = tmp_path / "target"
    return copy_workspace(workspace, root)  # the fault goes into a copy


def _parity_of(root: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    archive = str(tmp_path / "archive")
    incident = open_incident_cli(archive, root)
    common = ("--incident", incident, "--episodes", "2", "--archive", archive)
    return cli("parity", *common, "--target", str(root), cwd=root)


def test_an_observation_fault_fails_naming_the_leaf(workspace: Path, tmp_path: Path) -> None:
    root = _faulty_copy(workspace, tmp_path)
    ini = root / "experiment.ini"
    ini.write_text(
        ini.read_text(encoding="utf-8").replace("obs_noise = 0.0", "obs_noise = 0.5"),
        encoding="utf-8",
    )
    done = _parity_of(root, tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "results FAIL" in done.stdout
    assert "first divergence  episode 0, step 1, obs['holding_time']" in done.stdout


def test_a_space_mismatch_fails_naming_the_keys(workspace: Path, tmp_path: Path) -> None:
    root = _faulty_copy(workspace, tmp_path)
    unified = root / "lightpath" / "envs" / "unified.py"
    extra = (
        "        self.observation_space = observation_space(settings)\n"
        "        self.observation_space = gym.spaces.Dict({**self.observation_space.spaces,"
        ' "congestion": gym.spaces.Box(0.0, 1.0, (1,), np.float32)})\n'
    )
    text = unified.read_text(encoding="utf-8")
    unified.write_text(
        text.replace("        self.observation_space = observation_space(settings)\n", extra),
        encoding="utf-8",
    )
    done = _parity_of(root, tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "results FAIL" in done.stdout and "congestion" in done.stdout
