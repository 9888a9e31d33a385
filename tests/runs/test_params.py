from __future__ import annotations

from typing import Any

import pytest

from runbook_lib.base.errors import InvalidInputError
from runbook_lib.runs.params import injected_names, validate

INJECTED = '# Parameters\nincident = "INC-20261123-0612-3fa2"\nepisodes = 20\n'


def namespace(**values: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"incident": "", "episodes": 10, "margin": 0.05, "baseline": None}
    base.update(values)
    base["__annotations__"] = {
        "incident": str,
        "episodes": int,
        "margin": float,
        "baseline": str | None,
    }
    return base


def test_injected_names_come_from_the_last_papermill_cell() -> None:
    history = ["", "incident: str = ''", INJECTED, "x = 1"]
    assert injected_names(history) == ["incident", "episodes"]
    assert injected_names(["a = 1"]) == []


def test_valid_parameters_are_returned() -> None:
    ns = namespace(incident="INC-1", episodes=20, margin=1)
    assert validate(ns, ["", INJECTED]) == {
        "incident": "INC-1",
        "episodes": 20,
        "margin": 1,
        "baseline": None,
    }


def test_unknown_parameter_is_named_with_the_accepted_ones() -> None:
    with pytest.raises(
        InvalidInputError, match=r"unknown parameter\(s\): epsiodes.*accepts: incident, episodes"
    ):
        validate(namespace(), ["# Parameters\nepsiodes = 5\n"])


@pytest.mark.parametrize(
    ("name", "value"),
    [("episodes", "20"), ("episodes", True), ("margin", "x"), ("incident", 3), ("baseline", 1)],
)
def test_wrong_type_is_named(name: str, value: Any) -> None:
    with pytest.raises(InvalidInputError, match=f"parameter {name}="):
        validate(namespace(**{name: value}), [])


def test_no_declared_parameters_is_an_error() -> None:
    with pytest.raises(InvalidInputError, match="declares no parameters"):
        validate({}, [])
