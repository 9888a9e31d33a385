"""GeneralSimEnv (release v1.0): gymnasium API, determinism, first fit, the factory."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from src.rl.envs.factory import EnvSelectionError, create_sim_env
from src.rl.envs.general_sim_env import GeneralSimEnv
from src.rl.envs.settings import ConfigError, SimulationSettings

SETTINGS = SimulationSettings(num_requests=300)


@pytest.fixture(autouse=True)
def private_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    path = tmp_path / "config.ini"
    path.write_text("[simulation]\nnum_requests = 50\n", encoding="utf-8")
    monkeypatch.setenv("RL_CONFIG_FILE", str(path))
    return path


def test_passes_the_gymnasium_checker() -> None:
    env = GeneralSimEnv(SETTINGS)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env, skip_render_check=True)
    assert [str(w.message) for w in caught] == []


def test_same_seed_gives_the_same_episode() -> None:
    first, second = GeneralSimEnv(SETTINGS), GeneralSimEnv(SETTINGS)
    assert first.reset(seed=7)[0].tobytes() == second.reset(seed=7)[0].tobytes()
    rng = np.random.default_rng(7)
    done = False
    while not done:
        action = int(rng.integers(3))
        left, right = first.step(action), second.step(action)
        assert left[0].tobytes() == right[0].tobytes()
        assert left[1:] == right[1:]
        done = left[2]


def test_reward_is_plus_one_for_an_allocation_and_minus_one_for_a_block() -> None:
    env = GeneralSimEnv(SETTINGS)
    env.reset(seed=42)
    rewards = {env.step(0)[1] for _ in range(SETTINGS.num_requests - 1)}
    assert rewards == {1.0, -1.0}


def test_legacy_env_is_not_deprecated() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        GeneralSimEnv(SETTINGS)


def test_factory_builds_the_legacy_env_and_logs_it(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="src.rl.envs.factory"):
        env = create_sim_env({"num_requests": 20})
    assert isinstance(env, GeneralSimEnv)
    assert env.settings.num_requests == 20
    assert "create_sim_env: using GeneralSimEnv (legacy)" in caplog.text


def test_factory_has_no_unified_env() -> None:
    with pytest.raises(EnvSelectionError, match="only has the legacy environment"):
        create_sim_env(None, env_type="unified")


def test_unknown_setting_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="unknown simulation setting 'k'"):
        create_sim_env({"k": 3})
