"""Env workers handed from one step to the next: reused when a step ended well, else stopped."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from runbook_lib.base.errors import InvalidInputError
from runbook_lib.target.interpreter import Interpreter, probe_interpreter
from runbook_lib.target.worker.client import TargetCallError, build_env
from runbook_lib.target.worker.stash import WorkerStash, borrowed
from tests.target.toytarget import TOY_PACKAGE, write_toy_target

FACTORY = f"{TOY_PACKAGE}:make"


@pytest.fixture
def toy_root(tmp_path: Path) -> Path:
    return write_toy_target(tmp_path / "toy")


def test_a_worker_lent_twice_is_the_same_process_and_keeps_its_envs(toy_root: Path) -> None:
    with WorkerStash() as stash:
        with stash.lend(sys.executable, toy_root) as first:
            build_env(first, FACTORY, "legacy", handle="probe-legacy")
        assert len(stash) == 1 and first.alive
        with stash.lend(sys.executable, toy_root) as second:
            assert second is first
            second.call("reset", handle="probe-legacy", seed=0)  # the env built before
        taken = stash.take(sys.executable, toy_root)
        assert taken is first and len(stash) == 0
        taken.close()
    assert not first.alive


def test_a_worker_whose_step_failed_is_stopped_not_handed_on(toy_root: Path) -> None:
    with WorkerStash() as stash:
        with pytest.raises(TargetCallError), stash.lend(sys.executable, toy_root) as failed:
            failed.call("reset", handle="no-such-env", seed=0)
        assert not failed.alive and len(stash) == 0
        with stash.lend(sys.executable, toy_root) as fresh:
            assert fresh is not failed and fresh.alive


def test_other_interpreters_or_trees_get_workers_of_their_own(toy_root: Path) -> None:
    other = write_toy_target(toy_root.parent / "other")
    with WorkerStash() as stash:
        with stash.lend(sys.executable, toy_root) as mine:
            pass
        with stash.lend(sys.executable, other) as theirs:
            assert theirs is not mine
        assert len(stash) == 2
        waiting = [mine, theirs]
    assert not any(worker.alive for worker in waiting)  # closing the stash stopped both


def test_without_a_stash_the_worker_is_the_blocks_alone(toy_root: Path) -> None:
    with borrowed(None, sys.executable, toy_root) as worker:
        assert worker.call("hello")["protocol"]
    assert not worker.alive


def test_the_probes_worker_waits_in_the_stash_only_when_it_answered(
    toy_root: Path, tmp_path: Path
) -> None:
    with WorkerStash() as stash:
        probe_interpreter(Interpreter(Path(sys.executable), "runbook"), toy_root, stash)
        assert len(stash) == 1
        worker = stash.take(sys.executable, toy_root)
        assert worker.alive
        worker.close()
    bare = Path("/usr/bin/python3")
    has = subprocess.run([str(bare), "-c", "import gymnasium"], capture_output=True, check=False)
    if not bare.exists() or has.returncode == 0:
        pytest.skip("needs an interpreter without gymnasium")
    with WorkerStash() as stash:
        with pytest.raises(InvalidInputError, match="has no gymnasium"):
            probe_interpreter(Interpreter(bare, "manifest"), toy_root, stash)
        assert len(stash) == 0
