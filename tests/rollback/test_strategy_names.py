"""Strategy names are one StrEnum; plans and the CLI still read and write the plain names."""

from __future__ import annotations

import json

from runbook_lib.decide import tree
from runbook_lib.rollback.documenting import STRATEGY as DOCUMENTING
from runbook_lib.rollback.strategies import NOT_ROLLBACKS, STRATEGIES, Strategy, checklist


def test_every_builder_is_keyed_by_a_member_and_documenting_is_not_a_rollback() -> None:
    assert all(isinstance(name, Strategy) for name in STRATEGIES)
    not_built = {Strategy.DOCUMENT_DIFFERENCE, Strategy.INVESTIGATE}  # planned from the incident
    assert set(STRATEGIES) | not_built == set(Strategy)
    assert DOCUMENTING is Strategy.DOCUMENT_DIFFERENCE and not_built == NOT_ROLLBACKS
    # decide/ sits below rollback/ and names the same strategies by their plain names
    assert {str(s) for s in NOT_ROLLBACKS} == tree.NOT_ROLLBACKS


def test_members_are_their_plain_names_in_json_and_lookups() -> None:
    assert json.dumps({"strategy": Strategy.ENV_VAR}) == '{"strategy": "env-var"}'
    assert Strategy("sac-full") is Strategy.SAC_FULL and "now" in STRATEGIES
    assert checklist(Strategy.NOW) == checklist("now")
