"""The env worker: target code in a separate interpreter, its protocol and its failures."""

from __future__ import annotations

import os
import sys
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest

from runbook_lib.target.worker.client import (
    WORKER_FILE,
    EnvWorker,
    TargetCallError,
    WorkerError,
    build_env,
)
from runbook_lib.target.worker.envworker import PROTOCOL
from tests.target.toytarget import TOY_PACKAGE, write_toy_target

FACTORY = f"{TOY_PACKAGE}:make"


@pytest.fixture
def toy_root(tmp_path: Path) -> Path:
    return write_toy_target(tmp_path / "toy")


def test_worker_file_imports_nothing_of_runbook() -> None:
    for path in sorted(WORKER_FILE.parent.glob("env*.py")):
        text = path.read_text(encoding="utf-8")
        assert "runbook_lib" not in text.replace('"""', "").split("from __future__")[1]


def test_hello_reports_the_target_interpreter_versions(toy_root: Path) -> None:
    import gymnasium

    with EnvWorker(sys.executable, toy_root) as worker:
        hello = worker.call("hello")
    assert hello["protocol"] == PROTOCOL
    assert hello["gymnasium"] == gymnasium.__version__
    assert hello["numpy"] == np.__version__
    # Read from the installed metadata: asking SB3 itself would import torch for seconds.
    assert hello["stable_baselines3"] == metadata.version("stable_baselines3")


def test_dict_and_tuple_observations_travel_leaf_by_leaf(toy_root: Path) -> None:
    with EnvWorker(sys.executable, toy_root) as worker:
        env = build_env(worker, FACTORY, "legacy")
        obs, info, mask = env.reset(seed=7)
        obs2, reward, terminated, truncated, info2, _ = env.step(np.array([2, 1]))
    assert sorted(obs) == ["holding_time", "hops", "pair", "slots"]
    assert obs["holding_time"].dtype == np.float32 and obs["holding_time"].shape == (3,)
    assert obs["slots"].dtype == np.int8
    assert obs["hops"].shape == ()
    assert isinstance(obs["pair"], tuple) and obs["pair"][1].shape == (2, 2)
    assert info["mask"].tolist() == [True, True, True] and mask is None  # no action_masks()
    assert reward == 3.0 and not terminated and not truncated
    assert info2 == {"blocking": 0.25, "t": 1}
    assert not np.array_equal(obs["holding_time"], obs2["holding_time"])
    assert TOY_PACKAGE not in sys.modules  # runbook's process never imported the target


def test_reset_is_bytewise_reproducible_across_workers(toy_root: Path) -> None:
    firsts = []
    for _ in range(2):
        with EnvWorker(sys.executable, toy_root) as worker:
            obs, _, _ = build_env(worker, FACTORY, "legacy").reset(seed=3)
            firsts.append(obs)
    assert firsts[0]["holding_time"].tobytes() == firsts[1]["holding_time"].tobytes()
    assert firsts[0]["pair"][1].tobytes() == firsts[1]["pair"][1].tobytes()


def _one_env_then_stop(toy_root: Path, module: str, source: str, **env: str) -> int | None:
    """Write ``module`` into the target, build and reset one env of its ``make``, stop the worker.

    Returns the worker process's exit code.
    """
    (toy_root / f"{module}.py").write_text(source, encoding="utf-8")
    with EnvWorker(sys.executable, toy_root, env={**os.environ, **env}) as worker:
        build_env(worker, f"{module}:make", "legacy").reset(seed=1)
    return worker._proc.returncode


def test_a_worker_runs_the_targets_exit_handlers_when_it_stops(
    toy_root: Path, tmp_path: Path
) -> None:
    mark = tmp_path / "exit-handler-ran"
    exitprobe = (
        "import atexit, os, pathlib\n"
        "from toyrl import make as toy\n\n\n"
        "def make(*args, **kwargs):\n"
        "    atexit.register(pathlib.Path(os.environ['EXIT_MARK']).write_text, 'ran')\n"
        "    return toy(*args, **kwargs)\n"
    )
    assert _one_env_then_stop(toy_root, "exitprobe", exitprobe, EXIT_MARK=str(mark)) == 0
    assert mark.read_text(encoding="utf-8") == "ran"


def test_a_file_the_target_left_open_keeps_what_it_wrote_when_the_worker_stops(
    toy_root: Path, tmp_path: Path
) -> None:
    log = tmp_path / "env.log"
    openlog = (
        "import os\n"
        "from toyrl import make as toy\n\n"
        "LOG = open(os.environ['ENV_LOG'], 'w', encoding='utf-8')  # never closed, never flushed\n\n\n"
        "def make(*args, **kwargs):\n"
        "    LOG.write('made one env\\n')\n"
        "    return toy(*args, **kwargs)\n"
    )
    assert _one_env_then_stop(toy_root, "openlog", openlog, ENV_LOG=str(log)) == 0
    assert log.read_text(encoding="utf-8") == "made one env\n"


def test_identity_shows_the_unwrapped_class_and_the_wrapper_stack(toy_root: Path) -> None:
    with EnvWorker(sys.executable, toy_root) as worker:
        legacy = build_env(worker, FACTORY, "legacy", handle="legacy")
        unified = build_env(worker, FACTORY, "unified", handle="unified")
        _, _, mask = unified.reset(seed=0)
        same = legacy.fingerprint(seed=1) == build_env(
            worker, FACTORY, "legacy", handle="again"
        ).fingerprint(seed=1)
        shifted = build_env(worker, FACTORY, "legacy", handle="s", kwargs={"shift": 1.0})
        differs = legacy.fingerprint(seed=1) != shifted.fingerprint(seed=1)
    assert legacy.built["identity"] == {"unwrapped": f"{TOY_PACKAGE}.ToyEnv", "wrappers": []}
    assert unified.built["identity"] == {
        "unwrapped": f"{TOY_PACKAGE}.ToyEnv",
        "wrappers": [f"{TOY_PACKAGE}.Masked"],
    }
    assert mask.tolist() == [True, False, True]
    space = unified.built["observation_space"]
    assert space["type"] == "Dict"
    assert [key for key, _ in space["spaces"]] == ["holding_time", "hops", "pair", "slots"]
    assert unified.built["action_space"]["type"] == "MultiDiscrete"
    assert same and differs


def test_config_from_the_targets_own_loader(toy_root: Path) -> None:
    with EnvWorker(sys.executable, toy_root) as worker:
        config = {"loader": f"{TOY_PACKAGE}:load_config", "file": "sim.ini"}
        build_env(worker, FACTORY, "legacy", config=config)
        with pytest.raises(TargetCallError, match=r"build .* raised TypeError"):
            build_env(worker, FACTORY, "legacy", kwargs={"nope": 1})
        assert (
            worker.call("hello")["protocol"] == PROTOCOL
        )  # the worker survives the target's error


def test_a_worker_that_dies_names_interpreter_call_and_stderr(toy_root: Path) -> None:
    with EnvWorker(sys.executable, toy_root) as worker:
        env = build_env(worker, FACTORY, "legacy", kwargs={"die_at": 2})
        env.reset(seed=0)
        env.step(np.array([0, 0]))
        with pytest.raises(WorkerError) as caught:
            env.step(np.array([0, 0]))
    message = str(caught.value)
    assert "\n" not in message
    assert sys.executable in message and " step: " in message
    assert "exit code 3" in message and "toyrl: dying at step 2" in message


def test_a_hung_worker_is_stopped_after_its_timeout(toy_root: Path) -> None:
    with EnvWorker(sys.executable, toy_root, timeout_s=60) as worker:
        env = build_env(worker, FACTORY, "legacy", kwargs={"hang_at": 1})
        env.reset(seed=0)
        # Only the hanging step gets the short timeout: on a loaded machine the worker's
        # start and the env's build can take longer than a second.
        worker.timeout_s = 1
        with pytest.raises(WorkerError, match=r"step: no answer within 1 s \(stopped it\)"):
            env.step(np.array([0, 0]))
        assert worker._proc.poll() is not None


def test_garbage_on_stdout_is_a_protocol_error(tmp_path: Path) -> None:
    fake = tmp_path / "python"
    fake.write_text("#!/bin/sh\necho 'this is not json'\necho oops >&2\nsleep 5\n")
    fake.chmod(0o755)
    with EnvWorker(fake, tmp_path) as worker, pytest.raises(WorkerError) as caught:
        worker.call("hello")
    assert "wrote 'this is not json', not the protocol" in str(caught.value)
    assert str(fake) in str(caught.value)


def test_an_interpreter_that_cannot_start_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(WorkerError, match="cannot start the env worker with"):
        EnvWorker(tmp_path / "missing", tmp_path)
