"""The action table names every action module; each loads only when a step needs it."""

from __future__ import annotations

import pytest

from runbook_lib.base.errors import InvalidInputError
from runbook_lib.rollback.actions.registry import ACTIONS, action_type


@pytest.mark.parametrize("name", sorted(ACTIONS))
def test_every_entry_loads_the_class_that_records_its_name(name: str) -> None:
    assert action_type(name).name == name


def test_an_unknown_action_is_refused_naming_the_known_ones() -> None:
    with pytest.raises(InvalidInputError, match="unknown action 'nope'") as err:
        action_type("nope")
    assert "env-var" in (err.value.hint or "")
