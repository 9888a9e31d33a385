"""Seed 003's rollback scenarios for the SAC agent, mapped to its phases and steps.

:func:`decide_sac` maps a scenario to the phases and steps of seed 003's
procedure that apply, with the strategy ``sac-full`` or one of its parts.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from runbook_lib.base.errors import InvalidInputError

SAC_PHASES: dict[str, tuple[str, ...]] = {
    "Phase 1: Assessment and Preparation": (
        "Step 1: Issue Identification",
        "Step 2: Environment Assessment",
        "Step 3: Communication",
    ),
    "Phase 2: Implementation Rollback": (
        "Step 4: Code Rollback",
        "Step 5: Configuration Rollback",
        "Step 6: Documentation Rollback",
    ),
    "Phase 3: Testing and Validation": (
        "Step 7: Environment Validation",
        "Step 8: Test Execution",
        "Step 9: Performance Validation",
    ),
    "Phase 4: Deployment Rollback": (
        "Step 10: Development Environment",
        "Step 11: Production Environment",
    ),
    "Phase 5: Verification and Communication": (
        "Step 12: System Verification",
        "Step 13: Stakeholder Communication",
    ),
    "Recovery Steps": (
        "Recovery Step 1: Environment Restoration",
        "Recovery Step 2: Data Recovery",
        "Recovery Step 3: Service Restoration",
    ),
}


@dataclass(frozen=True)
class SacPlaybook:
    """Which parts of seed 003's procedure a scenario needs."""

    scenario: str
    strategy: str
    steps: tuple[str, ...]
    summary: str


def _phase(name: str) -> tuple[str, ...]:
    return SAC_PHASES[name]


_ASSESS, _CODE, _TEST, _DEPLOY, _VERIFY = (_phase(name) for name in list(SAC_PHASES)[:5])


_RECOVERY = SAC_PHASES["Recovery Steps"]


SAC_SCENARIOS: dict[str, SacPlaybook] = {
    p.scenario: p
    for p in (
        SacPlaybook(
            "implementation-failure",
            "sac-code",
            (*_ASSESS, *_CODE, *_TEST, *_VERIFY),
            "restore code, configuration and docs from the stable commit, then test",
        ),
        SacPlaybook(
            "testing-failure",
            "sac-code",
            (*_ASSESS, *_CODE, *_TEST, *_VERIFY),
            "restore code, configuration and docs from the stable commit, then re-run tests",
        ),
        SacPlaybook(
            "deployment-failure",
            "sac-deploy",
            (*_ASSESS, _TEST[2], *_DEPLOY, *_VERIFY),
            "downgrade the package to the stable version and restart the service",
        ),
        SacPlaybook(
            "data-corruption",
            "sac-data",
            (*_ASSESS, _RECOVERY[1], _TEST[0], _RECOVERY[2], *_VERIFY),
            "restore models and configuration from verified backups, restart the service",
        ),
    )
}


@dataclass(frozen=True)
class SacDecision:
    """Seed 003's answer for a scenario: the strategy, the phases and steps to run."""

    scenario: str
    deployed: bool
    strategy: str
    summary: str
    phases: tuple[str, ...]
    steps: tuple[str, ...]
    reasons: tuple[str, ...]
    source: str = "seed 003 Rollback Scenarios, Rollback Procedures, Recovery Steps"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


def _phases_of(steps: tuple[str, ...]) -> tuple[str, ...]:
    owner = {step: name for name, members in SAC_PHASES.items() for step in members}
    return tuple(dict.fromkeys(owner[step] for step in steps))


def decide_sac(scenario: str, *, deployed: bool = True) -> SacDecision:
    """Map a seed 003 scenario to the phases and steps that apply.

    A code or testing failure in a release that has been deployed also needs
    the deployment rollback (phase 4), which makes the full procedure
    (``sac-full``); before deployment the code rollback (``sac-code``) suffices.

    Raises:
        InvalidInputError: ``scenario`` is not one of seed 003's four.
    """
    playbook = SAC_SCENARIOS.get(scenario)
    if playbook is None:
        raise InvalidInputError(
            f"unknown SAC rollback scenario {scenario!r}",
            hint=f"one of: {', '.join(SAC_SCENARIOS)}",
        )
    strategy, steps, summary = playbook.strategy, playbook.steps, playbook.summary
    reasons = [f"seed 003 scenario: {scenario}"]
    if strategy == "sac-code" and deployed:
        strategy, summary = "sac-full", summary + "; downgrade the package and restart the service"
        steps = (*_ASSESS, *_CODE, *_TEST, *_DEPLOY, *_VERIFY)
        reasons.append("the release is deployed, so phase 4 (deployment rollback) applies too")
    elif strategy == "sac-code":
        reasons.append("the release is not deployed: phase 4 is not needed")
    return SacDecision(
        scenario, deployed, strategy, summary, _phases_of(steps), steps, tuple(reasons)
    )
