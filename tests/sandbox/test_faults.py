"""Drill faults: runbook_lib.sandbox.faults edits config.ini; each fault shows in the unified env."""

from __future__ import annotations

import contextlib
import importlib
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import numpy as np
import pytest

from runbook_lib.base.errors import InvalidInputError, WorkspaceError
from runbook_lib.sandbox import faults
from tests.wsutil import workspace_on_path

pytestmark = pytest.mark.filterwarnings("ignore:GeneralSimEnv is deprecated:DeprecationWarning")

SETTINGS = {"num_requests": 120}


@contextlib.contextmanager
def workspace_envs(root: Path) -> Iterator[SimpleNamespace]:
    """``root``'s factory and env modules, imported in-process and forgotten afterwards."""
    with workspace_on_path(root):
        previous = sys.dont_write_bytecode
        sys.dont_write_bytecode = True
        try:
            names = ("factory", "faults", "unified_sim_env", "general_sim_env")
            modules: dict[str, ModuleType] = {
                name: importlib.import_module(f"src.rl.envs.{name}") for name in names
            }
            yield SimpleNamespace(**modules)
        finally:
            sys.dont_write_bytecode = previous


@pytest.fixture(autouse=True)
def no_switches(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("RL_ENV_TYPE", "USE_UNIFIED_ENV", "RL_CONFIG_FILE"):
        monkeypatch.delenv(name, raising=False)


def without_mask(info: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in info.items() if key != "action_mask"}


def run(env: Any, steps: int, seed: int = 0) -> list[tuple[Any, ...]]:
    """Step ``env`` with path 0 throughout; return (obs bytes, reward, info) per step."""
    env.reset(seed=seed)
    return [
        (obs.tobytes(), reward, info)
        for obs, reward, _, _, info in (env.step(0) for _ in range(steps))
    ]


# --- editing config.ini -----------------------------------------------------------------


def test_workspace_config_has_every_fault_off(sandbox: Path) -> None:
    assert faults.read_faults(sandbox) == faults.OFF_VALUES
    assert faults.active_faults(sandbox) == {}


def test_fault_keys_match_the_workspace(sandbox: Path) -> None:
    with workspace_envs(sandbox) as ws:
        assert faults.FAULT_KEYS == ws.faults.FAULT_KEYS
        defaults = ws.faults.FaultConfig()
        assert {k: getattr(defaults, k) for k in ws.faults.FAULT_KEYS} == faults.OFF_VALUES


def test_set_changes_only_the_named_lines(fresh_sandbox: Path) -> None:
    config = fresh_sandbox / "config.ini"
    before = config.read_text(encoding="utf-8").splitlines()
    faults.set_faults(fresh_sandbox, reward_bias=-0.05, crash_at_step="12")
    after = config.read_text(encoding="utf-8").splitlines()
    changed = [(a, b) for a, b in zip(before, after, strict=True) if a != b]
    assert changed == [
        ("reward_bias = 0.0", "reward_bias = -0.05"),
        ("crash_at_step = 0", "crash_at_step = 12"),
    ]
    assert faults.active_faults(fresh_sandbox) == {"reward_bias": -0.05, "crash_at_step": 12}
    faults.set_faults(fresh_sandbox, slowdown=1.5)
    assert faults.read_faults(fresh_sandbox)["slowdown"] == 1.5
    assert faults.read_faults(fresh_sandbox)["reward_bias"] == -0.05  # others untouched
    faults.clear_faults(fresh_sandbox)
    assert config.read_text(encoding="utf-8").splitlines() == before


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"reward_biass": 1.0}, r"unknown fault 'reward_biass'.*known faults: reward_bias"),
        ({"slowdown": 0.5}, r"slowdown=0.5 is not valid.*>= 1.0"),
        ({"slowdown": "fast"}, r"slowdown='fast' is not valid"),
        ({"crash_at_step": -1}, r"crash_at_step=-1 is not valid.*step number"),
        ({"crash_at_step": 2.5}, r"crash_at_step=2.5 is not valid"),
        ({"empty_mask_at_step": True}, r"empty_mask_at_step=True is not valid"),
        ({"obs_noise": -0.1}, r"obs_noise=-0.1 is not valid.*>= 0"),
        ({"reward_bias": float("nan")}, r"reward_bias=nan is not valid"),
        ({"reward_bias": ""}, r"reward_bias='' is not valid"),
        ({"obs_noise": None}, r"obs_noise=None is not valid"),
    ],
)
def test_bad_values_are_refused_before_the_file_changes(
    fresh_sandbox: Path, values: dict[str, Any], message: str
) -> None:
    config = fresh_sandbox / "config.ini"
    before = config.read_bytes()
    # A valid fault alongside: nothing is written unless every value is valid.
    with pytest.raises(InvalidInputError, match=message):
        faults.set_faults(fresh_sandbox, **{"crash_at_step": 3, **values})
    with pytest.raises(InvalidInputError, match="no fault given"):
        faults.set_faults(fresh_sandbox)
    assert config.read_bytes() == before


def test_read_names_the_key_of_a_bad_value_in_the_file(tmp_path: Path) -> None:
    (tmp_path / "config.ini").write_text("[faults]\nslowdown = 0.2  # too fast\n")
    with pytest.raises(InvalidInputError, match=r"slowdown='0.2'.*>= 1.0"):
        faults.read_faults(tmp_path)


def test_empty_values_are_off(tmp_path: Path) -> None:
    (tmp_path / "config.ini").write_text("[faults]\nobs_noise =\ncrash_at_step = 4\n")
    assert faults.active_faults(tmp_path) == {"crash_at_step": 4}


def test_clear_leaves_a_config_without_faults_alone(tmp_path: Path) -> None:
    config = tmp_path / "config.ini"
    config.write_text("# release v1.0\n[simulation]\nerlang = 50\n")
    faults.clear_faults(tmp_path)
    assert config.read_text() == "# release v1.0\n[simulation]\nerlang = 50\n"
    faults.set_faults(tmp_path, obs_noise=0.1)
    assert faults.active_faults(tmp_path) == {"obs_noise": 0.1}


def test_missing_config_is_a_workspace_error(tmp_path: Path) -> None:
    with pytest.raises(WorkspaceError, match=r"config\.ini does not exist"):
        faults.set_faults(tmp_path, slowdown=2.0)
    with pytest.raises(WorkspaceError):
        faults.read_faults(tmp_path)


# --- each fault is observable -------------------------------------------------------------


def test_reward_bias_shifts_every_reward(fresh_sandbox: Path) -> None:
    faults.set_faults(fresh_sandbox, reward_bias=-0.05)
    with workspace_envs(fresh_sandbox) as ws:
        faulty = run(ws.factory.create_sim_env(SETTINGS), 120)
        legacy = run(ws.factory.create_sim_env(SETTINGS, env_type="legacy"), 120)
    assert [r for _, r, _ in faulty] == pytest.approx([r - 0.05 for _, r, _ in legacy])
    assert [o for o, _, _ in faulty] == [o for o, _, _ in legacy]


def test_crash_at_step_raises_at_that_step_of_every_episode(fresh_sandbox: Path) -> None:
    faults.set_faults(fresh_sandbox, crash_at_step=7)
    with workspace_envs(fresh_sandbox) as ws:
        env = ws.factory.create_sim_env(SETTINGS)
        for seed in (0, 1):
            env.reset(seed=seed)
            for _ in range(6):
                env.step(0)
            with pytest.raises(RuntimeError, match=r"injected fault crash_at_step=7.*step 7"):
                env.step(0)
        # The legacy env ignores faults: a rollback removes the crash.
        assert len(run(ws.factory.create_sim_env(SETTINGS, env_type="legacy"), 20)) == 20


def test_empty_mask_at_step_empties_that_mask_only(fresh_sandbox: Path) -> None:
    with workspace_envs(fresh_sandbox) as ws:
        clean = run(ws.factory.create_sim_env(SETTINGS), 120)
    step = next(
        n for n, (_, _, info) in enumerate(clean, 1) if n > 50 and info["action_mask"].all()
    )
    faults.set_faults(fresh_sandbox, empty_mask_at_step=step)
    with workspace_envs(fresh_sandbox) as ws:
        env = ws.factory.create_sim_env(SETTINGS)
        faulty = run(env, 120)
    for n, ((obs, reward, info), (clean_obs, clean_reward, clean_info)) in enumerate(
        zip(faulty, clean, strict=True), 1
    ):
        assert (obs, reward, without_mask(info)) == (
            clean_obs,
            clean_reward,
            without_mask(clean_info),
        )
        if n == step:
            assert not info["action_mask"].any()
        else:
            assert np.array_equal(info["action_mask"], clean_info["action_mask"])


def test_obs_noise_perturbs_observations_but_not_the_traffic(fresh_sandbox: Path) -> None:
    faults.set_faults(fresh_sandbox, obs_noise=0.05)
    with workspace_envs(fresh_sandbox) as ws:
        env = ws.factory.create_sim_env(SETTINGS)
        noisy = run(env, 120, seed=3)
        again = run(env, 120, seed=3)
        legacy = run(ws.factory.create_sim_env(SETTINGS, env_type="legacy"), 120, seed=3)
        first_obs, _ = env.reset(seed=3)
        assert env.observation_space.contains(first_obs)
    # The noise is seeded: the same seed gives the same noise.
    assert [n[0] for n in noisy] == [a[0] for a in again]
    differing = sum(n[0] != c[0] for n, c in zip(noisy, legacy, strict=True))
    assert differing == len(legacy)
    # Rewards and infos (the requests and their allocations) are the legacy env's.
    assert [(n[1], without_mask(n[2])) for n in noisy] == [(c[1], c[2]) for c in legacy]


class SteppingClock:
    """A clock that reads 0 at the step's start, 100 after its work, then +1 per read."""

    def __init__(self) -> None:
        self.readings: list[float] = []

    def __call__(self) -> float:
        value = {0: 0.0, 1: 100.0}.get(len(self.readings), 99.0 + len(self.readings))
        self.readings.append(value)
        return value


@pytest.mark.parametrize("factor", [1.5, 3.0])
def test_slowdown_stretches_each_step_to_factor_times_its_own_time(
    fresh_sandbox: Path, monkeypatch: pytest.MonkeyPatch, factor: float
) -> None:
    faults.set_faults(fresh_sandbox, slowdown=factor)
    with workspace_envs(fresh_sandbox) as ws:
        env = ws.factory.create_sim_env(SETTINGS)
        env.reset(seed=0)
        clock = SteppingClock()
        monkeypatch.setattr(ws.unified_sim_env, "_clock", clock)
        env.step(0)
    # The step ran 100 clock units of work, then waited until factor x 100 had passed.
    assert clock.readings[-1] == factor * 100.0
    assert clock.readings[-2] < factor * 100.0


def test_no_slowdown_means_no_waiting(fresh_sandbox: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with workspace_envs(fresh_sandbox) as ws:
        env = ws.factory.create_sim_env(SETTINGS)
        env.reset(seed=0)
        clock = SteppingClock()
        monkeypatch.setattr(ws.unified_sim_env, "_clock", clock)
        env.step(0)
    assert clock.readings == [0.0]


def test_an_invalid_fault_in_the_file_stops_env_creation(fresh_sandbox: Path) -> None:
    config = fresh_sandbox / "config.ini"
    config.write_text(config.read_text().replace("obs_noise = 0.0", "obs_noise = loud"))
    with workspace_envs(fresh_sandbox) as ws:
        with pytest.raises(ValueError, match=r"fault obs_noise='loud' in .*\[faults\]"):
            ws.factory.create_sim_env(SETTINGS)
        # A rollback to the legacy env does not depend on the faults being valid.
        assert type(ws.factory.create_sim_env(SETTINGS, env_type="legacy")).__name__ == (
            "GeneralSimEnv"
        )
