"""create_sim_env: build the RSA environment from ``config.ini``.

Release v1.0 has one environment, GeneralSimEnv. ``config.ini`` is the
workspace root's, or the file named by ``RL_CONFIG_FILE``. Each creation logs
one INFO line on this module's logger, e.g.::

    create_sim_env: using GeneralSimEnv (legacy) decided by v1.0-legacy-only
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path

from src.rl.envs.general_sim_env import GeneralSimEnv
from src.rl.envs.settings import ConfigError, build_settings, read_config_file, section_values

logger = logging.getLogger(__name__)

CONFIG_ENV_VAR = "RL_CONFIG_FILE"
DEFAULT_CONFIG_FILE = Path(__file__).resolve().parents[3] / "config.ini"


class EnvSelectionError(ConfigError):
    """An environment other than the legacy one was requested."""


def config_file() -> Path:
    """The config file: ``$RL_CONFIG_FILE`` when set, else ``config.ini`` at the workspace root."""
    explicit = os.environ.get(CONFIG_ENV_VAR, "").strip()
    return Path(explicit).expanduser() if explicit else DEFAULT_CONFIG_FILE


def create_sim_env(
    config: Mapping[str, object] | None = None, env_type: str | None = None
) -> GeneralSimEnv:
    """Build GeneralSimEnv with the ``config.ini`` ``[simulation]`` settings.

    Args:
        config: Simulation settings overriding ``config.ini`` ``[simulation]``;
            None for the file's values.
        env_type: None or ``"legacy"``: v1.0 has no other environment.

    Raises:
        EnvSelectionError: ``env_type`` names another environment.
        ConfigError: the config file is missing or malformed, or a setting is
            unknown or invalid.
    """
    if env_type is not None and str(env_type).strip().lower() != "legacy":
        raise EnvSelectionError(
            f"env_type={env_type!r}: release v1.0 only has the legacy environment; "
            "accepted values: legacy"
        )
    path = config_file()
    settings = build_settings(
        section_values(read_config_file(path), "simulation"), config, file_label=str(path)
    )
    env = GeneralSimEnv(settings)
    logger.info("create_sim_env: using GeneralSimEnv (legacy) decided by v1.0-legacy-only")
    return env
