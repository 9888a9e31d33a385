"""create_sim_env: the one place that decides which routing env a caller gets.

The env type comes from, highest first: the ``env_type`` argument, then the
``LIGHTPATH_ENV`` environment variable (``legacy`` or ``unified``), then the
default, unified. The unified env is returned inside ActionMaskWrapper.
The experiment config is never consulted for the choice.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from enum import Enum
from typing import Any, Optional, Tuple, Union

from lightpath.config import ExperimentConfig
from lightpath.envs.legacy import LegacyRoutingEnv
from lightpath.envs.masking import ActionMaskWrapper
from lightpath.envs.unified import UnifiedRoutingEnv

logger = logging.getLogger(__name__)
ENV_VAR = "LIGHTPATH_ENV"


class EnvType(str, Enum):
    """The two routing environments."""

    LEGACY = "legacy"
    UNIFIED = "unified"


def _resolve(env_type: Optional[Union[EnvType, str]]) -> Tuple[EnvType, str]:
    if env_type is not None:
        value = env_type.value if isinstance(env_type, EnvType) else str(env_type)
        return EnvType(value.strip().lower()), f"env_type={value}"
    named = os.environ.get(ENV_VAR, "").strip()
    if named:
        return EnvType(named.lower()), f"{ENV_VAR}={named}"
    return EnvType.UNIFIED, "default"


def create_sim_env(
    config: ExperimentConfig,
    env_type: Optional[Union[EnvType, str]] = None,
    num_requests: Optional[int] = None,
) -> Any:
    """Build the env the switches select from an ExperimentConfig (lightpath.config.load_config).

    ``num_requests`` overrides the config's episode length.
    """
    if not isinstance(config, ExperimentConfig):
        raise TypeError(
            "create_sim_env needs an ExperimentConfig from lightpath.config.load_config"
        )
    chosen, decided_by = _resolve(env_type)
    settings = config.simulation
    if num_requests is not None:
        settings = dataclasses.replace(settings, num_requests=int(num_requests))
    if chosen is EnvType.LEGACY:
        env: Any = LegacyRoutingEnv(settings)
    else:
        env = ActionMaskWrapper(UnifiedRoutingEnv(settings, config.faults))
    logger.info(
        "create_sim_env: using %s (%s) decided by %s",
        type(env.unwrapped).__name__,
        chosen.value,
        decided_by,
    )
    return env
