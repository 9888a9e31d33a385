"""create_sim_env: the one place that decides which RSA environment a caller gets.

Switches, highest precedence first (seed P4.4.d, rollback procedures):

1. ``_FORCE_LEGACY_ENV = True`` in this module: global rollback (edit the source).
2. ``env_type`` argument (``EnvType`` or ``"legacy"`` / ``"unified"``): per-script rollback.
3. ``RL_ENV_TYPE`` environment variable: ``legacy`` or ``unified``.
4. ``USE_UNIFIED_ENV`` environment variable: ``0/1/true/false`` (any case).
5. ``config.ini`` ``[rl] use_unified_env``: persistent, per-experiment rollback.
6. Default: unified.

Every switch that is set must hold a valid value, even when a higher one
decides: a mistyped rollback switch is an error, never silently ignored. Each
creation logs one INFO line on this module's logger, e.g.::

    create_sim_env: using GeneralSimEnv (legacy) decided by RL_ENV_TYPE=legacy

``config.ini`` is the workspace root's, or the file named by ``RL_CONFIG_FILE``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path

from src.rl.envs.faults import FaultConfig
from src.rl.envs.general_sim_env import GeneralSimEnv
from src.rl.envs.settings import ConfigError, build_settings, read_config_file, section_values
from src.rl.envs.unified_sim_env import UnifiedSimEnv

# Set to True to force legacy env for all calls (global rollback).
_FORCE_LEGACY_ENV = False

logger = logging.getLogger(__name__)

CONFIG_ENV_VAR = "RL_CONFIG_FILE"
DEFAULT_CONFIG_FILE = Path(__file__).resolve().parents[3] / "config.ini"
_BOOLEANS = {"1": True, "true": True, "0": False, "false": False}


class EnvType(StrEnum):
    """The two RSA environments."""

    LEGACY = "legacy"
    UNIFIED = "unified"


class EnvSelectionError(ConfigError):
    """A switch that selects the environment holds a value it does not accept."""


def config_file() -> Path:
    """The config file: ``$RL_CONFIG_FILE`` when set, else ``config.ini`` at the workspace root."""
    explicit = os.environ.get(CONFIG_ENV_VAR, "").strip()
    return Path(explicit).expanduser() if explicit else DEFAULT_CONFIG_FILE


def _env_type_value(value: str, switch: str) -> EnvType:
    try:
        return EnvType(value.strip().lower())
    except ValueError:
        raise EnvSelectionError(
            f"{switch}={value!r} is not a valid environment type; "
            f"accepted values: {', '.join(t.value for t in EnvType)}"
        ) from None


def _boolean_value(value: str, switch: str) -> bool:
    try:
        return _BOOLEANS[value.strip().lower()]
    except KeyError:
        raise EnvSelectionError(
            f"{switch}={value!r} is not a valid switch value; "
            "accepted values: 0, 1, true, false (any case)"
        ) from None


def _config_switch(path: Path) -> bool | None:
    raw = section_values(read_config_file(path), "rl").get("use_unified_env")
    if raw is None or not raw.strip():
        return None
    return _boolean_value(raw, f"use_unified_env in {path} [rl]")


def _resolve_env_type(
    env_type: EnvType | str | None = None, *, config_path: Path | None = None
) -> tuple[EnvType, str]:
    """Decide which environment to build and name the switch that decided it.

    Returns:
        The environment type and the deciding switch as ``NAME=value`` (or ``default``).

    Raises:
        EnvSelectionError: any switch that is set holds an invalid value.
    """
    explicit = None
    if env_type is not None:
        raw = env_type.value if isinstance(env_type, EnvType) else str(env_type)
        explicit = _env_type_value(raw, "env_type")
    by_name = os.environ.get("RL_ENV_TYPE", "").strip()
    named = _env_type_value(by_name, "RL_ENV_TYPE") if by_name else None
    by_flag = os.environ.get("USE_UNIFIED_ENV", "").strip()
    flagged = _boolean_value(by_flag, "USE_UNIFIED_ENV") if by_flag else None
    configured = _config_switch(config_path or config_file())

    if _FORCE_LEGACY_ENV:
        return EnvType.LEGACY, "_FORCE_LEGACY_ENV=True"
    if explicit is not None:
        return explicit, f"env_type={explicit.value}"
    if named is not None:
        return named, f"RL_ENV_TYPE={by_name}"
    if flagged is not None:
        return _from_flag(flagged), f"USE_UNIFIED_ENV={by_flag}"
    if configured is not None:
        return _from_flag(configured), f"rl.use_unified_env={str(configured).lower()}"
    return EnvType.UNIFIED, "default"


def _from_flag(use_unified: bool) -> EnvType:
    return EnvType.UNIFIED if use_unified else EnvType.LEGACY


def create_sim_env(
    config: Mapping[str, object] | None = None, env_type: EnvType | str | None = None
) -> GeneralSimEnv | UnifiedSimEnv:
    """Build the RSA environment the switches select.

    Args:
        config: Simulation settings overriding ``config.ini`` ``[simulation]``
            (e.g. ``{"erlang": 120, "num_requests": 500}``); None for the file's values.
        env_type: Explicit choice, overriding the environment variables and the
            config file (but not ``_FORCE_LEGACY_ENV``).

    Raises:
        EnvSelectionError: a switch holds an invalid value.
        ConfigError: the config file is missing or malformed, or a setting or
            fault is unknown or invalid.
    """
    path = config_file()
    chosen, decided_by = _resolve_env_type(env_type, config_path=path)
    parser = read_config_file(path)
    settings = build_settings(section_values(parser, "simulation"), config, file_label=str(path))
    env: GeneralSimEnv | UnifiedSimEnv
    if chosen is EnvType.LEGACY:
        env = GeneralSimEnv(settings)
    else:
        faults = FaultConfig.from_mapping(
            section_values(parser, "faults"), origin=f"{path} [faults]"
        )
        env = UnifiedSimEnv(settings, faults)
    logger.info(
        "create_sim_env: using %s (%s) decided by %s",
        type(env).__name__, chosen.value, decided_by,
    )
    return env
