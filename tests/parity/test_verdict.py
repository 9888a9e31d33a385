"""The verdict rules as a table: which rule decides the results, and the separate speed verdict."""

from __future__ import annotations

from typing import Any

import pytest

from runbook_lib.parity.engine import build_report
from runbook_lib.parity.lockstep import EpisodeRecord, ParitySpec
from runbook_lib.parity.verdict import judge, space_differences, speed_verdict

CRASH = {"episode": 0, "step": 7, "type": "ValueError", "message": "boom"}


@pytest.mark.parametrize(
    ("case", "results", "rule"),
    [
        ({"spaces": ["observation_space keys only in legacy ['a']"]}, "FAIL", "spaces"),
        ({"spaces": ["action_space n differs"], "agreement": 1.0}, "FAIL", "spaces"),
        ({"crash": CRASH}, "FAIL", "crash"),
        ({"agreement": 0.0}, "FAIL", "no_agreement"),
        ({"agreement": 0.0, "min_agreement": 0.0}, "FAIL", "no_agreement"),
        ({"agreement": 0.0, "metrics": ("INCONCLUSIVE", "x")}, "FAIL", "no_agreement"),
        ({"agreement": 0.95}, "FAIL", "step_agreement"),
        ({"agreement": 0.95, "min_agreement": 0.9}, "PASS", "metrics"),
        ({"metrics": ("FAIL", "total_reward -8%")}, "FAIL", "metrics"),
        ({"metrics": ("INCONCLUSIVE", "straddles")}, "INCONCLUSIVE", "metrics"),
        ({}, "PASS", "metrics"),
    ],
)
def test_the_first_rule_that_applies_decides(case: dict[str, Any], results: str, rule: str) -> None:
    args: dict[str, Any] = {
        "spaces": (),
        "crash": None,
        "steps": 100,
        "agreement": 1.0,
        "min_agreement": 1.0,
        "metrics": ("PASS", "within margins"),
    }
    args.update(case)
    judged = judge(**args)
    assert (judged.verdict, judged.rule) == (results, rule)
    assert judged.reason


@pytest.mark.parametrize(
    ("pct", "ci", "speed"),
    [
        (30.0, (12.0, 45.0), "REGRESSION"),
        (-20.0, (-30.0, -10.0), "FASTER"),
        (3.0, (-2.0, 8.0), "NO_CHANGE"),
        (None, None, "NOT_MEASURED"),
    ],
)
def test_speed_is_a_verdict_of_its_own(
    pct: float | None, ci: tuple[float, float] | None, speed: str
) -> None:
    assert speed_verdict(pct, ci) == speed


def _records(agreeing: int, legacy_s: float, candidate_s: float) -> list[EpisodeRecord]:
    return [
        EpisodeRecord(
            episode=i,
            seed=i,
            length=10,
            legacy_reward=5.0 + i,
            candidate_reward=5.0 + i,
            agreeing_steps=agreeing,
            legacy_seconds=legacy_s,
            candidate_seconds=candidate_s * (1 + 0.05 * (-1) ** i),  # noise both ways
        )
        for i in range(6)
    ]


@pytest.mark.parametrize(
    ("agreeing", "spaces", "candidate_s", "results", "rule", "speed"),
    [
        (10, (), 1.0, "PASS", "metrics", "NO_CHANGE"),
        (10, (), 2.0, "PASS", "metrics", "REGRESSION"),  # green results never hide the slowdown
        (0, (), 1.0, "FAIL", "no_agreement", "NO_CHANGE"),  # equal totals, no equal step
        (9, (), 1.0, "FAIL", "step_agreement", "NO_CHANGE"),
        (10, ("observation_space['x'] shape differs",), 1.0, "FAIL", "spaces", "NO_CHANGE"),
    ],
)
def test_a_report_keeps_results_and_speed_apart(
    agreeing: int,
    spaces: tuple[str, ...],
    candidate_s: float,
    results: str,
    rule: str,
    speed: str,
) -> None:
    spec = ParitySpec(root=".", factory="m:f", seeds=tuple(range(6)))
    report = build_report(spec, _records(agreeing, 1.0, candidate_s), spaces=spaces)
    assert (report.verdict, report.deciding_rule, report.speed_verdict) == (results, rule, speed)
    assert report.to_dict()["deciding_rule"] == rule


def test_space_differences_name_the_keys() -> None:
    box = {"type": "Box", "shape": [2], "dtype": "<f4"}
    legacy = {
        "observation_space": {"type": "Dict", "spaces": [["a", box], ["b", box]]},
        "action_space": {"type": "Discrete", "shape": [], "n": 3},
    }
    candidate = {
        "observation_space": {
            "type": "Dict",
            "spaces": [["a", dict(box, shape=[3])], ["c", box]],
        },
        "action_space": {"type": "Discrete", "shape": [], "n": 4},
    }
    found = space_differences(legacy, candidate)
    assert "observation_space keys only in legacy ['b'], only in candidate ['c']" in found
    assert "observation_space['a'] shape differs" in found
    assert "action_space n differs" in found
    assert space_differences(legacy, legacy) == []
