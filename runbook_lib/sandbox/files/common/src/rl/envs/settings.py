"""Simulation settings: defaults, ``config.ini`` ``[simulation]`` values and overrides.

Every value is validated when the settings are built, so a typo in a config
file or in a caller's mapping fails at environment creation with a message
naming the key, the value and what is accepted.
"""

from __future__ import annotations

import configparser
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path


class ConfigError(ValueError):
    """A configuration file, section, key or value is not acceptable."""


@dataclass(frozen=True)
class SimulationSettings:
    """Everything that defines one RSA simulation (both environments read the same)."""

    topology: str = "nsfnet"
    k_paths: int = 3
    num_slots: int = 64
    guard_slots: int = 1
    erlang: float = 50.0
    holding_time: float = 10.0
    num_requests: int = 1000
    bitrates: tuple[float, ...] = (25.0, 50.0, 100.0)


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else str(value)


def _integer(low: int, high: int) -> Callable[[object], int]:
    def parse(value: object) -> int:
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise ValueError
        number = int(_text(value))
        if not low <= number <= high:
            raise ValueError
        return number

    return parse


def _positive_float(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError
    number = float(_text(value))
    if not (math.isfinite(number) and number > 0):
        raise ValueError
    return number


def _name(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError
    return value.strip()


def _bitrates(value: object) -> tuple[float, ...]:
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not items:
        raise ValueError
    return tuple(_positive_float(item) for item in items)


_POSITIVE = "a positive number"
# Each setting: its parser and what it accepts (for the error message).
_PARSERS: dict[str, tuple[Callable[[object], object], str]] = {
    "topology": (_name, "a topology name shipped in src/rl/envs/data (nsfnet) or a .json path"),
    "k_paths": (_integer(1, 10), "an integer from 1 to 10"),
    "num_slots": (_integer(4, 4096), "an integer from 4 to 4096"),
    "guard_slots": (_integer(0, 16), "an integer from 0 to 16"),
    "erlang": (_positive_float, _POSITIVE),
    "holding_time": (_positive_float, _POSITIVE),
    "num_requests": (_integer(1, 100_000_000), "an integer from 1 to 100000000"),
    "bitrates": (_bitrates, "a comma-separated list of positive bit rates in Gb/s (25, 50)"),
}
KNOWN_SETTINGS = tuple(field.name for field in fields(SimulationSettings))


def parse_setting(key: str, value: object, *, origin: str) -> object:
    """Validate one setting; ``origin`` says where it came from, for the error message.

    Raises:
        ConfigError: unknown key or unacceptable value.
    """
    entry = _PARSERS.get(key)
    if entry is None:
        raise ConfigError(
            f"unknown simulation setting {key!r} in {origin}; "
            f"known settings: {', '.join(KNOWN_SETTINGS)}"
        )
    parser, accepted = entry
    try:
        return parser(value)
    except (ValueError, TypeError):
        raise ConfigError(
            f"simulation setting {key}={value!r} in {origin} is not valid: expected {accepted}"
        ) from None


def build_settings(
    file_values: Mapping[str, str], overrides: Mapping[str, object] | None, *, file_label: str
) -> SimulationSettings:
    """Defaults, then the file's ``[simulation]`` values, then ``overrides``.

    Raises:
        ConfigError: an unknown key or an invalid value, in the file or the overrides.
    """
    changes: dict[str, object] = {}
    for key, text in file_values.items():
        changes[key] = parse_setting(key, text, origin=f"{file_label} [simulation]")
    for key, value in (overrides or {}).items():
        changes[key] = parse_setting(str(key), value, origin="the config mapping")
    settings = replace(SimulationSettings(), **changes)  # type: ignore[arg-type]
    if settings.guard_slots >= settings.num_slots:
        raise ConfigError(
            f"guard_slots={settings.guard_slots} leaves no room in num_slots={settings.num_slots}; "
            "use fewer guard slots or more slots"
        )
    return settings


def read_config_file(path: Path) -> configparser.ConfigParser:
    """Parse an INI file (comments with ``#`` or ``;``), failing clearly if absent or broken.

    Raises:
        ConfigError: the file does not exist or is not valid INI.
    """
    if not path.is_file():
        raise ConfigError(
            f"config file {path} does not exist; create it or point RL_CONFIG_FILE at one"
        )
    parser = configparser.ConfigParser(interpolation=None, inline_comment_prefixes=("#", ";"))
    try:
        parser.read(path, encoding="utf-8")
    except configparser.Error as err:
        raise ConfigError(f"config file {path} is not valid INI: {err}") from err
    return parser


def section_values(parser: configparser.ConfigParser, section: str) -> dict[str, str]:
    """The key/value pairs of ``section`` (empty when the section is absent)."""
    return dict(parser.items(section)) if parser.has_section(section) else {}
