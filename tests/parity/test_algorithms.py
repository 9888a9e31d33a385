"""A legacy env that fails the users' algorithms is never the recommended rollback."""

from __future__ import annotations

from typing import Any

from runbook_lib.decide.tree import Assessment, decide
from runbook_lib.parity.algorithms import guard_decision, legacy_failures

TRAINED: dict[str, dict[str, Any]] = {
    "legacy": {"PPO": {"ok": False, "type": "ValueError", "message": "bandits only"}},
    "candidate": {"PPO": {"ok": True}},
}


def test_a_rollback_to_a_legacy_env_that_fails_an_algorithm_becomes_investigate() -> None:
    crash = decide(Assessment(crash_or_data_loss=True))
    assert crash.strategy == "env-var"
    failures = legacy_failures(TRAINED)
    assert failures == ["PPO: ValueError: bandits only"]
    guarded = guard_decision(crash, failures)
    assert guarded.strategy == "investigate"
    assert "legacy env fails the users' algorithms: PPO" in guarded.reasons[-1]


def test_no_failure_or_no_rollback_leaves_the_decision_alone() -> None:
    crash = decide(Assessment(crash_or_data_loss=True))
    assert guard_decision(crash, []) == crash
    within = decide(Assessment(difference_pct=1.0))
    assert guard_decision(within, ["PPO: x"]) == within
