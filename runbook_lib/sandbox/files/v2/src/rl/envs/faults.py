"""Fault injection for drills, read from ``config.ini`` ``[faults]``; off by default.

Every fault acts on UnifiedSimEnv only, so rolling back to the legacy env
removes its effect, as a real regression in the new env would behave:

* ``reward_bias``: added to every reward (e.g. -0.05).
* ``slowdown``: each step takes this factor of its own time (1.5 = 50 % slower).
* ``crash_at_step``: step N of every episode raises RuntimeError.
* ``empty_mask_at_step``: the action mask returned by step N of every episode
  has no valid action.
* ``obs_noise``: standard deviation of Gaussian noise added to observations,
  drawn from its own generator so the traffic stream is untouched.

An empty value means off, as do 0 (and 1.0 for ``slowdown``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, fields

from src.rl.envs.settings import ConfigError


@dataclass(frozen=True)
class FaultConfig:
    """Faults to inject into UnifiedSimEnv; the defaults inject nothing."""

    reward_bias: float = 0.0
    slowdown: float = 1.0
    crash_at_step: int = 0
    empty_mask_at_step: int = 0
    obs_noise: float = 0.0

    @property
    def active(self) -> dict[str, float | int]:
        """The faults that differ from their off value."""
        off = asdict(FaultConfig())
        return {key: value for key, value in asdict(self).items() if value != off[key]}

    @classmethod
    def from_mapping(cls, values: Mapping[str, str], *, origin: str) -> FaultConfig:
        """Parse ``[faults]`` values (strings; empty = off).

        Raises:
            ConfigError: an unknown key or an invalid value, naming both.
        """
        parsed: dict[str, float | int] = {}
        for key, raw in values.items():
            entry = _PARSERS.get(key)
            if entry is None:
                raise ConfigError(
                    f"unknown fault {key!r} in {origin}; known faults: {', '.join(FAULT_KEYS)}"
                )
            parser, accepted = entry
            text = raw.strip()
            if not text:
                continue
            try:
                parsed[key] = parser(text)
            except ValueError:
                raise ConfigError(
                    f"fault {key}={raw!r} in {origin} is not valid: expected {accepted}"
                ) from None
        return cls(**parsed)  # type: ignore[arg-type]


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError
    return value


def _at_least(low: float) -> Callable[[str], float]:
    def parse(text: str) -> float:
        value = _finite(text)
        if value < low:
            raise ValueError
        return value

    return parse


def _step_number(text: str) -> int:
    value = int(text)
    if value < 0:
        raise ValueError
    return value


_PARSERS: dict[str, tuple[Callable[[str], float | int], str]] = {
    "reward_bias": (_finite, "a finite number (0 = off)"),
    "slowdown": (_at_least(1.0), "a factor >= 1.0 (1.0 = off)"),
    "crash_at_step": (_step_number, "a step number >= 1 (0 or empty = off)"),
    "empty_mask_at_step": (_step_number, "a step number >= 1 (0 or empty = off)"),
    "obs_noise": (_at_least(0.0), "a standard deviation >= 0 (0 = off)"),
}
FAULT_KEYS = tuple(field.name for field in fields(FaultConfig))
