"""create_sim_env: the environments of lightpath 1.0 (the legacy env only)."""

from __future__ import annotations

import logging
from enum import Enum
from typing import Any, Optional, Union

from lightpath.config import ExperimentConfig
from lightpath.envs.legacy import LegacyRoutingEnv

logger = logging.getLogger(__name__)


class EnvType(str, Enum):
    """The environments this release knows."""

    LEGACY = "legacy"


def create_sim_env(
    config: ExperimentConfig,
    env_type: Optional[Union[EnvType, str]] = None,
    num_requests: Optional[int] = None,
) -> Any:
    """Build the legacy env from an ExperimentConfig (see lightpath.config.load_config)."""
    if not isinstance(config, ExperimentConfig):
        raise TypeError(
            "create_sim_env needs an ExperimentConfig from lightpath.config.load_config"
        )
    env = LegacyRoutingEnv(config.simulation)
    logger.info("create_sim_env: using LegacyRoutingEnv (legacy)")
    return env
