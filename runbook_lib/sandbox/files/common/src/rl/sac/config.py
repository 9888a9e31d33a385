"""Load ``configs/sac_config.json`` and check it against the release's schema.

The schema is data (``sac_config.schema.json`` next to this module), written in
a small subset of JSON Schema so that no validator library is needed: ``type``,
``properties``, ``required``, ``additionalProperties``, ``items``,
``minItems``, ``maxItems``, ``uniqueItems``, ``minimum``, ``maximum``,
``exclusiveMinimum``, ``exclusiveMaximum``, ``enum``, ``pattern`` and
``anyOf``. Every problem names the key it is about, as a dotted path
(``sac.learning_rate``, ``eval_seeds[2]``).
"""

from __future__ import annotations

import json
import operator
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

SCHEMA_PATH = Path(__file__).with_name("sac_config.schema.json")
DEFAULT_CONFIG = Path("configs/sac_config.json")

_TYPES: dict[str, Callable[[Any], bool]] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
}

_BOUNDS: dict[str, tuple[Callable[[float, float], bool], str]] = {
    "minimum": (operator.ge, ">="),
    "maximum": (operator.le, "<="),
    "exclusiveMinimum": (operator.gt, ">"),
    "exclusiveMaximum": (operator.lt, "<"),
}


class ConfigError(ValueError):
    """The config file is unreadable, not JSON, or breaks the schema."""

    def __init__(self, source: str, problems: Sequence[str]) -> None:
        self.source = source
        self.problems = list(problems)
        listing = "; ".join(self.problems)
        super().__init__(f"{source}: {listing} (fix the file, or restore it from a backup)")


def load_schema(path: Path = SCHEMA_PATH) -> dict[str, Any]:
    """Return the release's config schema."""
    schema: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return schema


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number JSON allows")


def parse_json(text: str, source: str) -> Any:
    """Parse JSON text, turning a syntax error into a :class:`ConfigError`."""
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as err:
        raise ConfigError(
            source, [f"invalid JSON at line {err.lineno} column {err.colno}: {err.msg}"]
        ) from err
    except ValueError as err:
        raise ConfigError(source, [f"invalid JSON: {err}"]) from err


def _key(where: str) -> str:
    return where or "(top level)"


def _check_type(value: Any, spec: dict[str, Any], where: str) -> list[str]:
    wanted = spec.get("type")
    if wanted is None:
        return []
    names = [wanted] if isinstance(wanted, str) else list(wanted)
    if any(_TYPES[name](value) for name in names):
        return []
    wanted_text = " or ".join(names)
    return [
        f"key '{_key(where)}' must be of type {wanted_text}, got {type(value).__name__} {value!r}"
    ]


def _check_range(value: Any, spec: dict[str, Any], where: str) -> list[str]:
    if not _TYPES["number"](value):
        return []
    return [
        f"key '{_key(where)}' = {value!r} is out of range (must be {sign} {spec[name]!r})"
        for name, (holds, sign) in _BOUNDS.items()
        if name in spec and not holds(value, spec[name])
    ]


def _check_object(value: dict[str, Any], spec: dict[str, Any], where: str) -> list[str]:
    problems: list[str] = []
    properties: dict[str, Any] = spec.get("properties", {})
    prefix = f"{where}." if where else ""
    for name in spec.get("required", []):
        if name not in value:
            problems.append(f"missing key '{prefix}{name}'")
    if spec.get("additionalProperties", True) is False:
        for name in sorted(set(value) - set(properties)):
            problems.append(
                f"unknown key '{prefix}{name}' (this release's schema does not define it)"
            )
    for name, sub in properties.items():
        if name in value:
            problems.extend(check(value[name], sub, f"{prefix}{name}"))
    return problems


def _check_array(value: list[Any], spec: dict[str, Any], where: str) -> list[str]:
    problems: list[str] = []
    if "minItems" in spec and len(value) < spec["minItems"]:
        problems.append(
            f"key '{_key(where)}' needs at least {spec['minItems']} items, has {len(value)}"
        )
    if "maxItems" in spec and len(value) > spec["maxItems"]:
        problems.append(
            f"key '{_key(where)}' allows at most {spec['maxItems']} items, has {len(value)}"
        )
    if spec.get("uniqueItems") and len({json.dumps(item) for item in value}) != len(value):
        problems.append(f"key '{_key(where)}' has repeated items")
    if "items" in spec:
        for index, item in enumerate(value):
            problems.extend(check(item, spec["items"], f"{where}[{index}]"))
    return problems


def check(value: Any, spec: dict[str, Any], where: str = "") -> list[str]:
    """Return every way ``value`` breaks ``spec`` (empty when it conforms)."""
    if "anyOf" in spec:
        options = [check(value, option, where) for option in spec["anyOf"]]
        if all(options):
            forms = spec.get("description", "the allowed forms")
            return [f"key '{_key(where)}' = {value!r} matches none of: {forms}"]
        return []
    problems = _check_type(value, spec, where)
    if problems:
        return problems
    if "enum" in spec and value not in spec["enum"]:
        return [f"key '{_key(where)}' = {value!r} is not one of {spec['enum']}"]
    if "pattern" in spec and isinstance(value, str) and not re.fullmatch(spec["pattern"], value):
        return [f"key '{_key(where)}' = {value!r} does not match {spec['pattern']!r}"]
    problems = _check_range(value, spec, where)
    if isinstance(value, dict):
        problems += _check_object(value, spec, where)
    elif isinstance(value, list):
        problems += _check_array(value, spec, where)
    return problems


def _check_market(config: dict[str, Any]) -> list[str]:
    market = config.get("env", {}).get("market", {})
    drift, volatility = market.get("drift"), market.get("volatility")
    if isinstance(drift, list) and isinstance(volatility, list) and len(drift) != len(volatility):
        return [
            f"key 'env.market.volatility' has {len(volatility)} regimes but "
            f"'env.market.drift' has {len(drift)}; give one of each per regime"
        ]
    return []


def validate(config: Any, schema: dict[str, Any] | None = None) -> list[str]:
    """Return every problem of a parsed config (schema, then cross-key rules)."""
    problems = check(config, schema if schema is not None else load_schema())
    if not problems:
        problems = _check_market(config)
    return problems


def load_config(path: Path | str = DEFAULT_CONFIG) -> dict[str, Any]:
    """Read, parse and validate the config; raise :class:`ConfigError` naming each bad key."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(source, [f"cannot read the file: {err}"]) from err
    data = parse_json(text, source)
    problems = validate(data)
    if problems:
        raise ConfigError(source, problems)
    config: dict[str, Any] = data
    return config
