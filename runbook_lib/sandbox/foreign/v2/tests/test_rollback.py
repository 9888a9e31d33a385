"""Seed 000 §4: the rollback switches select the legacy env."""

from lightpath.envs import EnvType, create_sim_env
from lightpath.envs.legacy import LegacyRoutingEnv
from lightpath.envs.unified import UnifiedRoutingEnv


def test_default_is_the_unified_env_in_its_mask_wrapper(config, monkeypatch):
    monkeypatch.delenv("LIGHTPATH_ENV", raising=False)
    env = create_sim_env(config)
    assert isinstance(env.unwrapped, UnifiedRoutingEnv)
    env.reset(seed=0)
    assert env.action_masks().dtype == bool


def test_env_var_rollback(config, monkeypatch):
    monkeypatch.setenv("LIGHTPATH_ENV", "legacy")
    assert isinstance(create_sim_env(config).unwrapped, LegacyRoutingEnv)


def test_code_level_rollback(config):
    assert isinstance(create_sim_env(config, env_type=EnvType.LEGACY).unwrapped, LegacyRoutingEnv)


def test_both_envs_walk_the_same_trajectory(config):
    legacy = create_sim_env(config, env_type="legacy")
    unified = create_sim_env(config, env_type="unified")
    _, info_l = legacy.reset(seed=1)
    _, info_u = unified.reset(seed=1)
    for _ in range(50):
        mask = info_u["action_mask"]
        action = int(mask.nonzero()[0][-1]) if mask.any() else 0
        obs_l, r_l, _, _, info_l = legacy.step(action)
        obs_u, r_u, _, _, info_u = unified.step(action)
        assert r_l == r_u
        assert all((obs_l[k] == obs_u[k]).all() for k in obs_l)
