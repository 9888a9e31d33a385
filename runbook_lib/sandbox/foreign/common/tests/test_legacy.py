"""The legacy env: valid observations, a reset cap, an error for an infeasible path."""

import numpy as np
import pytest

from lightpath.envs.legacy import LegacyRoutingEnv, ResetLimitError


def test_observations_lie_in_the_space(config):
    env = LegacyRoutingEnv(config.simulation)
    obs, info = env.reset(seed=0)
    assert env.observation_space.contains(obs)
    obs, _, _, _, _ = env.step(int(np.flatnonzero(info["action_mask"])[0]))
    assert env.observation_space.contains(obs)


def test_an_instance_refuses_too_many_resets(config):
    env = LegacyRoutingEnv(config.simulation)
    for seed in range(config.simulation.max_resets_per_env):
        env.reset(seed=seed)
    with pytest.raises(ResetLimitError):
        env.reset(seed=99)
