"""The experiment configuration: ``load_config(path)`` reads an INI file into an ExperimentConfig.

Only three sections are read: ``[reinforcement_learning]`` (the learner's
settings), ``[simulation]`` and ``[faults]``. Every other section is dropped.
"""

from __future__ import annotations

import configparser
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Union

RL_SECTION = "reinforcement_learning"


@dataclass(frozen=True)
class SimulationSettings:
    """What the simulator needs."""

    k_paths: int = 3
    num_slots: int = 16
    erlang: float = 30.0
    holding_time: float = 8.0
    num_requests: int = 100
    max_resets_per_env: int = 8


@dataclass(frozen=True)
class FaultSettings:
    """Drill faults, applied by the unified env only (all off by default)."""

    reward_bias: float = 0.0
    slowdown: float = 1.0
    crash_at_step: int = 0
    empty_mask_at_step: int = 0
    obs_noise: float = 0.0


@dataclass(frozen=True)
class ExperimentConfig:
    """One experiment: where it came from and its settings."""

    source: str
    simulation: SimulationSettings = SimulationSettings()
    faults: FaultSettings = FaultSettings()
    learning: Dict[str, str] = field(default_factory=dict)


def _typed(cls: type, values: Dict[str, str], where: str) -> object:
    defaults = cls()
    kwargs = {}
    for key, raw in values.items():
        if not hasattr(defaults, key):
            raise ValueError(f"{where}: unknown setting {key!r}")
        kind = type(getattr(defaults, key))
        kwargs[key] = kind(raw) if raw.strip() else getattr(defaults, key)
    return cls(**kwargs)


def load_config(path: Union[str, Path]) -> ExperimentConfig:
    """Read ``path`` into an ExperimentConfig (ValueError on an unknown setting)."""
    parser = configparser.ConfigParser()
    if not parser.read(path, encoding="utf-8"):
        raise FileNotFoundError(f"no experiment config at {path}")
    section = {
        n: dict(parser[n]) if parser.has_section(n) else {}
        for n in (RL_SECTION, "simulation", "faults")
    }
    return ExperimentConfig(
        source=str(path),
        simulation=_typed(SimulationSettings, section["simulation"], f"{path} [simulation]"),  # type: ignore[arg-type]
        faults=_typed(FaultSettings, section["faults"], f"{path} [faults]"),  # type: ignore[arg-type]
        learning=section[RL_SECTION],
    )
