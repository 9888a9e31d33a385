from __future__ import annotations

import json
import math

import pytest

from runbook_lib.base.errors import InvalidInputError
from runbook_lib.decide.scenarios import SAC_PHASES, SAC_SCENARIOS, decide_sac
from runbook_lib.decide.tree import OUTCOMES, TREE, Assessment, Node, decide, render_tree

ROOT = "Issue Detected"
CRITICAL = [
    ROOT,
    "Critical (crash, data loss)?",
    "Yes",
    "Immediate Rollback (env var) + Open critical issue",
]
SLOW = [
    ROOT,
    "Performance regression?",
    ">20% slower",
    "Code-level rollback + Profile and optimize",
]
MONITOR = [
    ROOT,
    "Performance regression?",
    "<20% slower",
    "Document in differences + Continue monitoring",
]
INVESTIGATE = [ROOT, "Different results?", "Outside tolerance", "Investigate"]
BUG = [*INVESTIGATE, "Bug", "Rollback + Fix"]
INTENDED = [*INVESTIGATE, "Intentional", "Document"]
WITHIN = [ROOT, "Different results?", "Within tolerance", "Document"]
OTHER = [ROOT, "Other issue?", "Investigate before rollback"]

# (facts, outcome, strategy, path, less urgent outcomes that also apply)
TABLE = [
    # crash takes priority over everything
    (Assessment(crash_or_data_loss=True), "immediate-rollback", "env-var", CRITICAL, []),
    (
        Assessment(True, 50.0, 30.0, 5.0, False),
        "immediate-rollback",
        "env-var",
        CRITICAL,
        ["code-rollback", "rollback-and-fix"],
    ),
    (
        Assessment(True, 1.0, 1.0),
        "immediate-rollback",
        "env-var",
        CRITICAL,
        ["document-and-monitor", "document-within-tolerance"],
    ),
    # performance regression: exactly 20% is not "> 20%"
    (Assessment(regression_pct=20.0), "document-and-monitor", "document-difference", MONITOR, []),
    (Assessment(regression_pct=20.000001), "code-rollback", "code", SLOW, []),
    (Assessment(regression_pct=35.0), "code-rollback", "code", SLOW, []),
    (Assessment(regression_pct=0.5), "document-and-monitor", "document-difference", MONITOR, []),
    (Assessment(regression_pct=0.0), "investigate-before-rollback", "investigate", OTHER, []),
    (Assessment(regression_pct=-12.0), "investigate-before-rollback", "investigate", OTHER, []),
    # different results: exactly at the tolerance is within
    (
        Assessment(difference_pct=5.0),
        "document-within-tolerance",
        "document-difference",
        WITHIN,
        [],
    ),
    (
        Assessment(difference_pct=-5.0),
        "document-within-tolerance",
        "document-difference",
        WITHIN,
        [],
    ),
    (
        Assessment(difference_pct=0.0, tolerance_pct=0.0),
        "document-within-tolerance",
        "document-difference",
        WITHIN,
        [],
    ),
    (Assessment(difference_pct=5.001), "investigate", "investigate", INVESTIGATE, []),
    (
        Assessment(difference_pct=-7.0, intentional=None),
        "investigate",
        "investigate",
        INVESTIGATE,
        [],
    ),
    (Assessment(difference_pct=7.0, intentional=False), "rollback-and-fix", "config", BUG, []),
    (
        Assessment(difference_pct=7.0, intentional=True),
        "document-intentional",
        "document-difference",
        INTENDED,
        [],
    ),
    (
        Assessment(difference_pct=7.0, tolerance_pct=10.0, intentional=False),
        "document-within-tolerance",
        "document-difference",
        WITHIN,
        [],
    ),
    (
        Assessment(difference_pct=2.0, tolerance_pct=1.0, intentional=False),
        "rollback-and-fix",
        "config",
        BUG,
        [],
    ),
    # several findings: the most urgent decides, the others are kept
    (
        Assessment(regression_pct=25.0, difference_pct=8.0, intentional=False),
        "code-rollback",
        "code",
        SLOW,
        ["rollback-and-fix"],
    ),
    (
        Assessment(regression_pct=10.0, difference_pct=8.0, intentional=False),
        "rollback-and-fix",
        "config",
        BUG,
        ["document-and-monitor"],
    ),
    (
        Assessment(regression_pct=10.0, difference_pct=8.0),
        "investigate",
        "investigate",
        INVESTIGATE,
        ["document-and-monitor"],
    ),
    (
        Assessment(regression_pct=10.0, difference_pct=1.0),
        "document-and-monitor",
        "document-difference",
        MONITOR,
        ["document-within-tolerance"],
    ),
    # nothing the tree asks about
    (Assessment(), "investigate-before-rollback", "investigate", OTHER, []),
    (Assessment(intentional=False), "investigate-before-rollback", "investigate", OTHER, []),
]


@pytest.mark.parametrize(("facts", "outcome", "strategy", "path", "also"), TABLE)
def test_decision_table(
    facts: Assessment, outcome: str, strategy: str, path: list[str], also: list[str]
) -> None:
    decision = decide(facts)
    assert decision.outcome == outcome
    assert decision.strategy == strategy
    assert list(decision.path) == path
    assert [finding.outcome for finding in decision.also] == also
    assert decision.summary == OUTCOMES[outcome].summary and decision.actions
    assert decision.assessment == facts
    assert json.loads(json.dumps(decision.to_dict()))["path"] == path


def test_every_outcome_of_the_tree_is_reachable() -> None:
    reached = {row[1] for row in TABLE}
    assert reached == set(OUTCOMES)

    def outcomes(node: Node) -> set[str]:
        mine = {node.outcome} if node.outcome else set()
        return mine.union(*(outcomes(child) for child in node.children))

    assert outcomes(TREE) == set(OUTCOMES)


def test_reasons_state_the_boundaries() -> None:
    assert "20% slower is not > 20%" in decide(Assessment(regression_pct=20.0)).reasons
    assert "20.5% slower is > 20%" in decide(Assessment(regression_pct=20.5)).reasons
    within = decide(Assessment(difference_pct=5.0)).reasons
    assert "difference 5% is within the tolerance of 5%" in within
    crash = decide(Assessment(crash_or_data_loss=True, regression_pct=30.0)).reasons
    assert crash[0].startswith("crash or data loss") and "priority" in crash[0]


@pytest.mark.parametrize(
    ("facts", "message"),
    [
        (Assessment(regression_pct=math.nan), "regression must be a finite number"),
        (Assessment(difference_pct=math.inf), "difference must be a finite number"),
        (Assessment(difference_pct=1.0, tolerance_pct=-1.0), "tolerance must not be negative"),
        (Assessment(tolerance_pct=math.nan), "tolerance must be a finite number"),
    ],
)
def test_bad_numbers_are_refused(facts: Assessment, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        decide(facts)


def test_render_tree_shows_every_seed_label() -> None:
    text = "\n".join(render_tree())
    for label in {*CRITICAL, *SLOW, *MONITOR, *BUG, *INTENDED, *WITHIN, *OTHER}:
        assert label in text


ASSESS = list(SAC_PHASES["Phase 1: Assessment and Preparation"])
VERIFY = list(SAC_PHASES["Phase 5: Verification and Communication"])

SAC_TABLE = [
    (
        "implementation-failure",
        True,
        "sac-full",
        ["Phase 1", "Phase 2", "Phase 3", "Phase 4", "Phase 5"],
        "Step 10: Development Environment",
    ),
    (
        "implementation-failure",
        False,
        "sac-code",
        ["Phase 1", "Phase 2", "Phase 3", "Phase 5"],
        "Step 4: Code Rollback",
    ),
    (
        "testing-failure",
        False,
        "sac-code",
        ["Phase 1", "Phase 2", "Phase 3", "Phase 5"],
        "Step 8: Test Execution",
    ),
    (
        "testing-failure",
        True,
        "sac-full",
        ["Phase 1", "Phase 2", "Phase 3", "Phase 4", "Phase 5"],
        "Step 11: Production Environment",
    ),
    (
        "deployment-failure",
        True,
        "sac-deploy",
        ["Phase 1", "Phase 3", "Phase 4", "Phase 5"],
        "Step 11: Production Environment",
    ),
    (
        "data-corruption",
        True,
        "sac-data",
        ["Phase 1", "Recovery", "Phase 3", "Phase 5"],
        "Recovery Step 2: Data Recovery",
    ),
]


@pytest.mark.parametrize(("scenario", "deployed", "strategy", "phases", "step"), SAC_TABLE)
def test_sac_scenarios_map_to_phases(
    scenario: str, deployed: bool, strategy: str, phases: list[str], step: str
) -> None:
    decision = decide_sac(scenario, deployed=deployed)
    assert decision.strategy == strategy
    assert [p.split(":")[0].split(" Steps")[0] for p in decision.phases] == phases
    assert step in decision.steps
    assert list(decision.steps[:3]) == ASSESS and list(decision.steps[-2:]) == VERIFY
    assert json.loads(json.dumps(decision.to_dict()))["strategy"] == strategy


def test_deployment_failure_downgrades_without_touching_code() -> None:
    steps = decide_sac("deployment-failure").steps
    assert "Step 4: Code Rollback" not in steps
    assert steps.index("Step 10: Development Environment") < steps.index(
        "Step 11: Production Environment"
    )


def test_data_corruption_restores_before_restarting() -> None:
    steps = decide_sac("data-corruption").steps
    assert (
        steps.index("Recovery Step 2: Data Recovery")
        < steps.index("Recovery Step 3: Service Restoration")
        < steps.index("Step 12: System Verification")
    )
    assert "Step 4: Code Rollback" not in steps


def test_unknown_sac_scenario() -> None:
    with pytest.raises(InvalidInputError, match="unknown SAC rollback scenario 'fire'"):
        decide_sac("fire")
    assert set(SAC_SCENARIOS) == {
        "implementation-failure",
        "testing-failure",
        "deployment-failure",
        "data-corruption",
    }
