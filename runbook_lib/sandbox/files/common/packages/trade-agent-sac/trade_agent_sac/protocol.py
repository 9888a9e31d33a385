"""The JSON protocol of ``POST /predict``: parse and check a request body.

A request is ``{"observation": [x0, x1, ...]}`` with exactly as many finite
numbers as the model's observation; anything else is refused with a reason the
client can act on (the server answers 400 with ``{"error": reason}``).
"""

from __future__ import annotations

import json
import math
from typing import Any

MAX_BODY_BYTES = 64 * 1024


class RequestError(ValueError):
    """A request the server refuses; ``status`` is the HTTP status to answer with."""

    def __init__(self, reason: str, status: int = 400) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


def _reject_constant(name: str) -> Any:
    raise RequestError(f"body holds {name}, which is not a JSON number; send finite numbers")


def _parse_json(body: bytes) -> Any:
    try:
        return json.loads(body.decode("utf-8"), parse_constant=_reject_constant)
    except UnicodeDecodeError as err:
        raise RequestError(f"body is not UTF-8: {err}") from err
    except json.JSONDecodeError as err:
        raise RequestError(
            f"body is not valid JSON: {err.msg} at line {err.lineno} column {err.colno}"
        ) from err
    except ValueError as err:  # an integer too long to convert (over 4300 digits)
        raise RequestError(f"body holds a number this service cannot represent: {err}") from err


def _number(value: Any, index: int) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RequestError(
            f"observation[{index}] is {type(value).__name__} {value!r}, not a number"
        )
    try:
        number = float(value)
    except OverflowError:
        raise RequestError(
            f"observation[{index}] is an integer too large for a float; send finite numbers"
        ) from None
    if not math.isfinite(number):
        raise RequestError(f"observation[{index}] is {value!r}; every value must be finite")
    return number


def parse_observation(body: bytes, size: int) -> list[float]:
    """Return the observation of a ``/predict`` body, checked against the model's ``size``.

    Raises:
        RequestError: the body is not JSON, not an object with an ``observation``
            list, has the wrong number of values, or holds a value that is not a
            finite number.
    """
    data = _parse_json(body)
    if not isinstance(data, dict) or "observation" not in data:
        raise RequestError('body must be a JSON object with key "observation" (a list of numbers)')
    observation = data["observation"]
    if not isinstance(observation, list):
        raise RequestError(
            f'"observation" must be a list of numbers, got {type(observation).__name__}'
        )
    if len(observation) != size:
        raise RequestError(f'"observation" has {len(observation)} values; the model expects {size}')
    return [_number(value, index) for index, value in enumerate(observation)]
