"""``runbook parity`` and ``runbook parity record`` in real subprocesses on a sandbox."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from runbook_lib.app.cli import main
from runbook_lib.base.errors import EXIT_CHECK_FAILED, EXIT_INVALID_INPUT
from runbook_lib.incident.store import incident_dir, open_incident
from runbook_lib.sandbox import WorkspaceInfo
from runbook_lib.sandbox.faults import set_faults
from tests.runutil import runbook_executable

pytestmark = pytest.mark.filterwarnings("ignore:GeneralSimEnv is deprecated:DeprecationWarning")


def runbook(archive: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RUNBOOK_ARCHIVE": str(archive)}
    return subprocess.run(
        [runbook_executable(), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        check=False,
        timeout=300,
    )


def incident(archive: Path) -> str:
    return open_incident(archive, "unified env differs", "high", "result-difference").id


@dataclass(frozen=True)
class BiasedRun:
    """``runbook parity --episodes 3 --json`` on a sandbox whose unified env's rewards are -0.05."""

    proc: subprocess.CompletedProcess[str]
    archive: Path
    incident: str


@pytest.fixture(scope="module")
def biased_run(sandbox: Path, tmp_path_factory: pytest.TempPathFactory) -> BiasedRun:
    """That run, once for the module, on its own copy of the sandbox. Read-only.

    Its legacy episodes are also the clean ones: the legacy env ignores the faults.
    """
    root = tmp_path_factory.mktemp("biased")
    target = root / "ws"
    shutil.copytree(sandbox, target, symlinks=True)
    set_faults(target, reward_bias=-0.05)
    archive = root / "archive"
    inc = incident(archive)
    args = ["parity", "--incident", inc, "--target", str(target), "--episodes", "3", "--json"]
    return BiasedRun(runbook(archive, *args), archive, inc)


@pytest.mark.slow
def test_json_fail_exits_1_and_saves_the_same_object(biased_run: BiasedRun) -> None:
    proc = biased_run.proc
    assert proc.returncode == EXIT_CHECK_FAILED, proc.stderr
    # Not one step agreed: that rule decides; the metric's own FAIL is in the reason too.
    assert proc.stderr.startswith("runbook: error: parity verdict FAIL: no step of")
    assert "outside the margin with confidence: total_reward" in proc.stderr
    assert proc.stderr.count("\n") == 1  # no progress under --json
    assert "parity 1/3" not in proc.stderr
    data = json.loads(proc.stdout)
    assert data["verdict"] == "FAIL"
    assert data["first_divergence"] == {
        "episode": 0,
        "step": 1,
        "field": "reward",
        "legacy": 1.0,
        "candidate": 0.95,
    }
    assert data["step_agreement"] == 0.0
    assert isinstance(data["throughput_regression_pct"], float)
    assert data["metrics"]["total_reward"]["verdict"] == "FAIL"
    found = [data["decision"]["outcome"], *(f["outcome"] for f in data["decision"]["also"])]
    assert "investigate" in found  # timing noise may add a regression finding, never remove this
    assert data["decision_inputs"]["metric"] == "total_reward"
    assert [(r["seed"], r["length"]) for r in data["records"]] == [(0, 1000), (1, 1000), (2, 1000)]
    saved = json.loads(
        (incident_dir(biased_run.archive, biased_run.incident) / "parity.json").read_text()
    )
    assert saved == data


@pytest.mark.slow
def test_text_pass_from_inside_the_target_with_two_workers(sandbox: Path, tmp_path: Path) -> None:
    proc = runbook(
        tmp_path,
        "parity",
        "--incident",
        incident(tmp_path),
        "--seeds",
        "0-2,7",
        "--workers",
        "2",
        cwd=sandbox,
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert out.startswith("parity    PASS: every metric is equivalent within its margin\n")
    assert (
        "GeneralSimEnv (legacy) vs UnifiedSimEnv (unified); 4 episodes, 4000 steps, 2 worker(s)"
        in out
    )
    assert "agreement 100.00% of steps identical" in out
    assert "first divergence" not in out
    assert "\n     3      7   1000: " in out  # episode 3 ran seed 7
    assert "throughput  candidate" in out and "decision  " in out
    # Off a terminal: one line per episode (as the two workers' chunks come back), the outcome.
    progress = proc.stderr.splitlines()
    assert len(progress) == 5, proc.stderr
    assert sorted(line.split(": ")[1] for line in progress[:4]) == [
        f"episode {i} seed {seed}" for i, seed in enumerate((0, 1, 2, 7))
    ]
    assert sorted(line.split(": ")[0] for line in progress[:4]) == [
        f"parity {n}/4" for n in range(1, 5)
    ]
    assert all("1000 steps, reward " in line for line in progress[:4])
    assert progress[4].startswith("parity: running the paired episodes: done (")


@pytest.mark.slow
def test_inconclusive_prints_the_episode_count_that_would_decide(
    biased_run: BiasedRun, fresh_sandbox: Path, tmp_path: Path
) -> None:
    args = [
        "parity",
        "--incident",
        incident(tmp_path),
        "--target",
        str(fresh_sandbox),
        "--episodes",
        "3",
    ]
    # The same three seeds' legacy rewards: the legacy env ignores the faults.
    clean = json.loads(biased_run.proc.stdout)["records"]
    rewards = [r["legacy_reward"] for r in clean]
    mean = sum(rewards) / len(rewards)
    spread = (max(rewards) - min(rewards)) / mean
    set_faults(fresh_sandbox, reward_bias=-0.05 * (1 + spread / 4) * mean / clean[0]["length"])
    proc = runbook(tmp_path, *args)
    # Every step's reward differs, so the results FAIL (0% agreement is never a pass) while
    # the metric alone is undecided: the episode count that would decide it is still printed.
    assert proc.returncode == 1, proc.stderr
    assert "parity    FAIL: no step of" in proc.stdout
    assert "the metrics alone: INCONCLUSIVE, intervals straddle the margin" in proc.stdout
    line = next(x for x in proc.stdout.splitlines() if x.startswith("undecided"))
    count = int(line.split("--episodes ")[1].split()[0])
    assert count > 3
    assert line == f"undecided run again with --episodes {count} to decide"


@pytest.mark.slow
def test_record_then_compare_a_crashing_candidate(fresh_sandbox: Path, tmp_path: Path) -> None:
    out = tmp_path / "legacy.json"
    proc = runbook(
        tmp_path,
        "parity",
        "record",
        "--out",
        str(out),
        "--episodes",
        "2",
        "--target",
        str(fresh_sandbox),
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"recorded 2 episodes of GeneralSimEnv (legacy) into {out}")
    lines = proc.stderr.splitlines()
    assert [line.split(": ")[:2] for line in lines[:2]] == [
        ["record 1/2", "episode 0 seed 0"],
        ["record 2/2", "episode 1 seed 1"],
    ]
    assert lines[2].startswith("parity record: recording legacy: done (") and len(lines) == 3
    again = runbook(tmp_path, "parity", "record", "--out", str(out), "--target", str(fresh_sandbox))
    assert again.returncode == EXIT_INVALID_INPUT and "exists" in again.stderr
    set_faults(fresh_sandbox, crash_at_step=40)
    proc = runbook(
        tmp_path,
        "parity",
        "--incident",
        incident(tmp_path),
        "--baseline",
        str(out),
        "--target",
        str(fresh_sandbox),
        "--json",
    )
    assert proc.returncode == EXIT_CHECK_FAILED
    data = json.loads(proc.stdout)
    assert data["reference"] == "baseline" and data["baseline"] == str(out)
    assert data["crash"]["step"] == 40 and data["throughput_regression_pct"] is None
    assert data["decision"]["outcome"] == "immediate-rollback"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["parity"], "missing option '--incident'"),
        (["parity", "--incident", "INC-20260101-0000-abcd", "--seeds", "x"], "'x' is not a seed"),
        (["parity", "--episodes", "3", "record", "--out", "f.json"], "options before 'record'"),
        (["parity", "record"], "Missing option '--out'"),
        (["parity", "--incident", "nope"], "'nope' is not an incident ID"),
        (["parity", "--policy", "greedy"], "Invalid value for '--policy'"),
    ],
)
def test_usage_errors_are_one_line(
    args: list[str],
    message: str,
    tmp_path: Path,
    sandbox: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RUNBOOK_ARCHIVE", str(tmp_path))
    monkeypatch.chdir(sandbox)
    assert main(args) == EXIT_INVALID_INPUT
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1
    assert message in captured.err


# 64 steps of PPO on the sandbox's legacy env: a real SB3 model for --model.
TRAIN_PPO = (
    "import sys; sys.path.insert(0, '.')\n"
    "from stable_baselines3 import PPO\n"
    "from src.rl.envs.factory import create_sim_env\n"
    "env = create_sim_env({'num_requests': 64}, env_type='legacy')\n"
    "PPO('MlpPolicy', env, n_steps=64, batch_size=32, n_epochs=1, seed=0, device='cpu')"
    ".learn(64).save(sys.argv[1])\n"
)


def _ppo_key(info: WorkspaceInfo) -> str:
    """What the model depends on: the script, the libraries and the sandbox's tracked files.

    The sandbox's release commit has fixed dates, so its SHA names its files' contents.
    """
    from importlib.metadata import version

    digest = hashlib.sha256(f"{TRAIN_PPO}\n{info.head_sha}\n".encode())
    for name in ("stable-baselines3", "torch", "gymnasium", "numpy"):
        digest.update(f"{name}=={version(name)}\n".encode())
    return digest.hexdigest()[:32]


@pytest.fixture(scope="module")
def ppo_model(sandbox_info: WorkspaceInfo, model_cache: Path) -> Path:
    """That model, trained once and kept beside the sandbox's model cache (a warm run reuses it).

    A change to the script, a library's version or the sandbox's code trains a new one.
    """
    from filelock import FileLock

    home = model_cache.parent / "test-models" / f"ppo-{_ppo_key(sandbox_info)}"
    model = home / "ppo_rsa.zip"
    home.mkdir(parents=True, exist_ok=True)
    with FileLock(str(home / ".lock")):
        if not model.is_file():
            partial = home / "partial.zip"
            env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
            done = subprocess.run(
                [sys.executable, "-c", TRAIN_PPO, str(partial)],
                cwd=sandbox_info.root,
                env=env,
                capture_output=True,
                text=True,
                check=False,
                timeout=300,
            )
            if done.returncode != 0:
                raise RuntimeError(f"training the PPO model failed:\n{done.stderr}")
            partial.replace(model)
    return model


@pytest.mark.slow
def test_policy_model_runs_an_sb3_model(sandbox: Path, ppo_model: Path, tmp_path: Path) -> None:
    model = tmp_path / "ppo_rsa.zip"
    shutil.copyfile(ppo_model, model)
    proc = runbook(
        tmp_path,
        "parity",
        "--incident",
        incident(tmp_path),
        "--target",
        str(sandbox),
        "--episodes",
        "2",
        "--model",
        str(model),
        "--json",
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["spec"]["policy"] == "model" and data["spec"]["model_path"] == str(model)
    assert data["verdict"] == "PASS" and data["step_agreement"] == 1.0


def _on_a_terminal_stderr(args: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    """Run with stderr on a pseudo-terminal and stdout on a pipe; return code, stdout, stderr."""
    import fcntl
    import pty
    import struct
    import termios

    leader, follower = pty.openpty()
    # A new pseudo-terminal is 0 columns wide, where tqdm draws nothing: give it a size.
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=follower, env=env)
    os.close(follower)
    seen = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the follower closed: the process is gone
            break
        if not chunk:
            break
        seen += chunk
    out = proc.stdout.read() if proc.stdout else b""
    os.close(leader)
    return proc.wait(timeout=300), out.decode(), seen.decode(errors="replace")


@pytest.mark.slow
@pytest.mark.parametrize("as_json", [False, True])
def test_progress_on_a_terminal_and_none_in_json(
    sandbox: Path, tmp_path: Path, as_json: bool
) -> None:
    args = [runbook_executable(), "parity", "--incident", incident(tmp_path)]
    args += ["--target", str(sandbox), "--episodes", "2", *(["--json"] if as_json else [])]
    code, out, err = _on_a_terminal_stderr(args, {**os.environ, "RUNBOOK_ARCHIVE": str(tmp_path)})
    assert code == 0, err
    if as_json:
        assert json.loads(out)["verdict"] == "PASS" and "parity: running" not in err
    else:
        assert "parity: running the paired episodes: done (" in err
        assert "parity: running the paired episodes: 2/2 [" in err  # the bar counts episodes
        assert "parity 1/2:" not in err  # no plain line per episode on a terminal
        assert out.startswith("parity    PASS")
