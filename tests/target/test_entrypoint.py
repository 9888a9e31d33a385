from __future__ import annotations

import pytest

from runbook_lib.base.errors import InvalidInputError
from runbook_lib.target.entrypoint import load_entry_point, parse_entry_point


def test_loads_a_dotted_attribute() -> None:
    join = load_entry_point("os.path:join")
    assert join("a", "b") == "a/b"


@pytest.mark.parametrize("spec", ["os.path", ":join", "os.path:", "os path:join", "../x:y", ""])
def test_rejects_malformed_specs(spec: str) -> None:
    with pytest.raises(InvalidInputError, match="is not of the form"):
        parse_entry_point(spec)


def test_names_missing_module_and_attribute() -> None:
    with pytest.raises(InvalidInputError, match="cannot import 'no_such_module_xyz'"):
        load_entry_point("no_such_module_xyz:f")
    with pytest.raises(InvalidInputError, match="has no attribute 'nope'"):
        load_entry_point("os.path:nope")
