"""Smoke-train the users' algorithms on both envs, and keep the decision from a broken legacy.

``[parity] algorithms`` lists SB3 algorithm names or training entry points
(``module:function(env)``). Each is trained briefly on a fresh env of each side
in that side's worker; a legacy env that fails one is a finding, and
:func:`guard_decision` then turns a recommended rollback into "investigate":
no rollback to an env that cannot train the users' agents.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from runbook_lib.decide.tree import NOT_ROLLBACKS, OUTCOMES, Decision
from runbook_lib.parity.lockstep import ParitySpec
from runbook_lib.parity.remote import remote_envs

SMOKE_STEPS = 64


def smoke_train(
    spec: ParitySpec, algorithms: Sequence[str], steps: int = SMOKE_STEPS
) -> dict[str, dict[str, Any]]:
    """``{role: {algorithm: {"ok", "type", "message"}}}`` for both sides."""
    found: dict[str, dict[str, Any]] = {"legacy": {}, "candidate": {}}
    if not algorithms:
        return found
    with remote_envs(spec, (spec.legacy, spec.candidate)) as envs:
        for role, env in zip(("legacy", "candidate"), envs, strict=True):
            for algorithm in algorithms:
                found[role][algorithm] = env.remote.worker.call(
                    "train",
                    handle=env.remote.handle,
                    algorithm=algorithm,
                    steps=steps,
                    timeout_s=600,
                )
    return found


def legacy_failures(trained: dict[str, dict[str, Any]]) -> list[str]:
    """``"PPO: ValueError: ..."`` for each algorithm the legacy env failed."""
    return [
        f"{name}: {result.get('type')}: {result.get('message')}"
        for name, result in trained.get("legacy", {}).items()
        if not result.get("ok")
    ]


def guard_decision(decision: Decision, failures: Sequence[str]) -> Decision:
    """``decision``, unless it rolls back to a legacy env that fails the users' algorithms."""
    if not failures or decision.strategy in NOT_ROLLBACKS:
        return decision
    outcome = OUTCOMES["investigate-before-rollback"]
    reason = (
        f"no rollback recommended ({decision.strategy} was): the legacy env fails the users' "
        "algorithms: " + "; ".join(failures)
    )
    return replace(
        decision,
        outcome=outcome.code,
        summary=outcome.summary,
        strategy=outcome.strategy,
        reasons=(*decision.reasons, reason),
        actions=outcome.actions,
    )
