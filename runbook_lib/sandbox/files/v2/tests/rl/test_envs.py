"""Both RSA environments: gymnasium API, parity, action mask, faults, deprecation."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from src.rl.envs.factory import DEFAULT_CONFIG_FILE
from src.rl.envs.faults import FaultConfig
from src.rl.envs.general_sim_env import GeneralSimEnv
from src.rl.envs.settings import (
    SimulationSettings,
    build_settings,
    read_config_file,
    section_values,
)
from src.rl.envs.unified_sim_env import UnifiedSimEnv

pytestmark = pytest.mark.filterwarnings("ignore:GeneralSimEnv is deprecated:DeprecationWarning")

SETTINGS = SimulationSettings(num_requests=300)


def without_mask(info: dict[str, object]) -> dict[str, object]:
    return {key: value for key, value in info.items() if key != "action_mask"}


@pytest.mark.parametrize("env_class", [GeneralSimEnv, UnifiedSimEnv])
def test_passes_the_gymnasium_checker(env_class: type[GeneralSimEnv | UnifiedSimEnv]) -> None:
    env = env_class(SETTINGS)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env, skip_render_check=True)
    assert [str(w.message) for w in caught] == []


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_same_seed_and_actions_give_identical_trajectories(seed: int) -> None:
    legacy, unified = GeneralSimEnv(SETTINGS), UnifiedSimEnv(SETTINGS)
    legacy_obs, legacy_info = legacy.reset(seed=seed)
    unified_obs, unified_info = unified.reset(seed=seed)
    assert legacy_obs.tobytes() == unified_obs.tobytes()
    assert legacy_info == without_mask(unified_info)
    rng = np.random.default_rng(seed)
    done = False
    while not done:
        valid = np.flatnonzero(unified.action_masks())
        action = int(rng.choice(valid)) if valid.size else int(rng.integers(3))
        left, right = legacy.step(action), unified.step(action)
        assert left[0].tobytes() == right[0].tobytes()
        assert left[1:4] == right[1:4]
        assert left[4] == without_mask(right[4])
        done = left[2]
    assert right[4]["request"] == SETTINGS.num_requests - 1


def test_mask_tells_which_paths_fit() -> None:
    env = UnifiedSimEnv(SETTINGS)
    env.reset(seed=3)
    checked_blocked = checked_fitting = 0
    for _ in range(SETTINGS.num_requests - 1):
        mask = env.action_masks()
        assert mask.dtype == np.bool_ and mask.shape == (3,)
        blocked = np.flatnonzero(~mask)
        action = int(blocked[0]) if blocked.size and checked_blocked < 20 else int(np.argmax(mask))
        _, reward, _, _, info = env.step(action)
        assert info["action_mask"].dtype == np.bool_
        if mask[action]:
            checked_fitting += 1
            assert reward == 1.0
        else:
            checked_blocked += 1
            assert reward == -1.0
    assert checked_blocked >= 20 and checked_fitting > 100


def test_faults_change_only_what_they_name() -> None:
    clean = UnifiedSimEnv(SETTINGS)
    faulty = UnifiedSimEnv(SETTINGS, FaultConfig(reward_bias=-0.05, crash_at_step=5))
    clean.reset(seed=0)
    faulty.reset(seed=0)
    for _ in range(4):
        expected, got = clean.step(0), faulty.step(0)
        assert got[1] == pytest.approx(expected[1] - 0.05)
        assert got[0].tobytes() == expected[0].tobytes()
    with pytest.raises(RuntimeError, match="crash_at_step=5"):
        faulty.step(0)


def test_legacy_env_is_deprecated() -> None:
    with pytest.warns(DeprecationWarning, match="GeneralSimEnv is deprecated"):
        GeneralSimEnv(SETTINGS)


def test_workspace_config_is_valid() -> None:
    parser = read_config_file(Path(DEFAULT_CONFIG_FILE))
    settings = build_settings(section_values(parser, "simulation"), None, file_label="config.ini")
    assert settings.k_paths >= 1
    FaultConfig.from_mapping(section_values(parser, "faults"), origin="config.ini [faults]")
