"""Seed 000's rollback decision as data, and two pure functions over it.

:data:`TREE` is seed 000's decision tree (§2) node for node; :func:`decide`
walks it for an :class:`Assessment` and returns the :class:`Decision`: the
outcome, the path of node labels taken, the reasons, and the recommended
rollback strategy. Every branch of the tree is checked, so a finding that does
not decide (a small regression next to a crash) still appears in ``also``; the
decision is the most urgent finding, and a crash or data loss outranks all.

Boundaries are the seed's words taken literally: a regression of exactly 20%
is not "> 20% slower"; a difference exactly at the tolerance is within it.

Seed 003's scenarios are :mod:`runbook_lib.decide.scenarios`.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from runbook_lib.base.errors import InvalidInputError

REGRESSION_THRESHOLD_PCT = 20.0


DEFAULT_TOLERANCE_PCT = 5.0


@dataclass(frozen=True)
class Node:
    """A node of the decision tree: its label in the seed, an outcome, its children."""

    label: str
    outcome: str | None = None
    children: tuple[Node, ...] = ()

    def child(self, label: str) -> Node:
        """The child labelled ``label`` (a KeyError is a bug in this module)."""
        for node in self.children:
            if node.label == label:
                return node
        raise KeyError(f"{self.label!r} has no child {label!r}")


def _leaf(label: str, outcome: str) -> Node:
    return Node(label, outcome)


TREE = Node(
    "Issue Detected",
    children=(
        Node(
            "Critical (crash, data loss)?",
            children=(
                Node(
                    "Yes",
                    children=(
                        _leaf(
                            "Immediate Rollback (env var) + Open critical issue",
                            "immediate-rollback",
                        ),
                    ),
                ),
            ),
        ),
        Node(
            "Performance regression?",
            children=(
                Node(
                    ">20% slower",
                    children=(
                        _leaf("Code-level rollback + Profile and optimize", "code-rollback"),
                    ),
                ),
                Node(
                    "<20% slower",
                    children=(
                        _leaf(
                            "Document in differences + Continue monitoring", "document-and-monitor"
                        ),
                    ),
                ),
            ),
        ),
        Node(
            "Different results?",
            children=(
                Node(
                    "Outside tolerance",
                    children=(
                        Node(
                            "Investigate",
                            "investigate",
                            children=(
                                Node(
                                    "Bug", children=(_leaf("Rollback + Fix", "rollback-and-fix"),)
                                ),
                                Node(
                                    "Intentional",
                                    children=(_leaf("Document", "document-intentional"),),
                                ),
                            ),
                        ),
                    ),
                ),
                Node(
                    "Within tolerance", children=(_leaf("Document", "document-within-tolerance"),)
                ),
            ),
        ),
        Node(
            "Other issue?",
            children=(_leaf("Investigate before rollback", "investigate-before-rollback"),),
        ),
    ),
)


@dataclass(frozen=True)
class Outcome:
    """What an outcome of the tree means: the strategy and the seed's actions."""

    code: str
    summary: str
    strategy: str
    actions: tuple[str, ...]
    source: str


# Ordered by urgency: when several branches apply, the first one listed here decides.
OUTCOMES: dict[str, Outcome] = {
    o.code: o
    for o in (
        Outcome(
            "immediate-rollback",
            "immediate rollback (env var) + open critical issue",
            "env-var",
            (
                "set USE_UNIFIED_ENV=0 (or RL_ENV_TYPE=legacy) in production and CI",
                "open a GitHub issue labelled critical within 1 hour",
                "root-cause analysis within 24 hours",
            ),
            "seed 000 §2, §1.1, §3.1",
        ),
        Outcome(
            "code-rollback",
            "code-level rollback + profile and optimize",
            "code",
            (
                "pin the affected call site to EnvType.LEGACY",
                "profile both environments to find the bottleneck",
                "optimize, or document the difference as a trade-off",
            ),
            "seed 000 §2, §1.2, §3.2",
        ),
        Outcome(
            "rollback-and-fix",
            "rollback + fix",
            "config",
            (
                "roll back persistently in the config file (use_unified_env = false)",
                "fix the bug",
                "re-run the parity tests",
            ),
            "seed 000 §2, §1.3, §3.3",
        ),
        Outcome(
            "investigate",
            "investigate",
            "investigate",
            (
                "verify the difference with parity tests",
                "determine whether it is intentional or a bug, then decide again",
            ),
            "seed 000 §2, §3.3",
        ),
        Outcome(
            "document-and-monitor",
            "document in differences + continue monitoring",
            "document-difference",
            ("document the performance difference in rl_differences.md", "continue monitoring"),
            "seed 000 §2, §3.2",
        ),
        Outcome(
            "document-intentional",
            "document as intentional",
            "document-difference",
            ("document the difference in rl_differences.md as intentional",),
            "seed 000 §2, §3.3",
        ),
        Outcome(
            "document-within-tolerance",
            "document (within tolerance)",
            "document-difference",
            ("document the difference in rl_differences.md",),
            "seed 000 §2",
        ),
        Outcome(
            "investigate-before-rollback",
            "investigate before rollback",
            "investigate",
            ("investigate the issue before any rollback",),
            "seed 000 §2",
        ),
    )
}


# The strategies of the branches that roll nothing back: seed 000 §2 says to
# investigate first, or to document the difference (a plan that edits only the
# differences document).
NOT_ROLLBACKS = frozenset({"investigate", "document-difference"})


def rolls_back(strategy: str) -> bool:
    """Whether ``strategy`` rolls the target back (empty: no decision, so no)."""
    return bool(strategy) and strategy not in NOT_ROLLBACKS and strategy != "none"


_URGENCY = {code: rank for rank, code in enumerate(OUTCOMES)}


@dataclass(frozen=True)
class Assessment:
    """The facts the decision tree asks about.

    Attributes:
        crash_or_data_loss: A crash or data loss was seen (critical).
        regression_pct: How much slower the candidate is, in percent (25.0 means
            25% slower); ``None`` when not measured, zero or less means no regression.
        difference_pct: Relative difference of the results, in percent (signed);
            ``None`` when not measured.
        tolerance_pct: The largest difference that counts as equal, in percent.
        intentional: Whether a difference is intended (True), a bug (False) or
            not known yet (None).
    """

    crash_or_data_loss: bool = False
    regression_pct: float | None = None
    difference_pct: float | None = None
    tolerance_pct: float = DEFAULT_TOLERANCE_PCT
    intentional: bool | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


@dataclass(frozen=True)
class Finding:
    """One branch of the tree that applies, and the path to its outcome."""

    outcome: str
    path: tuple[str, ...]


@dataclass(frozen=True)
class Decision:
    """The tree's answer for an assessment.

    Attributes:
        outcome: Code of the deciding outcome (a key of :data:`OUTCOMES`).
        summary: The outcome in the seed's words.
        strategy: The recommended strategy (``env-var``, ``code``, ``config``;
            ``investigate`` or ``document-difference`` where nothing is rolled back).
        path: Labels of the tree's nodes from the root to the outcome.
        reasons: One line per question the tree asked, with the numbers.
        actions: What the seed says to do.
        source: The seed sections behind it.
        also: The other branches that apply (less urgent), for the record.
        assessment: The facts decided on.
    """

    outcome: str
    summary: str
    strategy: str
    path: tuple[str, ...]
    reasons: tuple[str, ...]
    actions: tuple[str, ...]
    source: str
    also: tuple[Finding, ...] = ()
    assessment: Assessment = field(default_factory=Assessment)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


def follow(*labels: str) -> Finding:
    """The finding at the end of ``labels`` (below the root), checked against :data:`TREE`."""
    node = TREE
    for label in labels:
        node = node.child(label)
    if node.outcome is None:
        raise KeyError(f"path {labels} ends at {node.label!r}, which is no outcome")
    return Finding(node.outcome, (TREE.label, *labels))


def _check_number(value: float | None, what: str) -> None:
    if value is not None and not math.isfinite(value):
        raise InvalidInputError(f"{what} must be a finite number, got {value}")


def _validate(facts: Assessment) -> None:
    _check_number(facts.regression_pct, "regression")
    _check_number(facts.difference_pct, "difference")
    _check_number(facts.tolerance_pct, "tolerance")
    if facts.tolerance_pct < 0:
        raise InvalidInputError(
            f"tolerance must not be negative, got {_pct(facts.tolerance_pct)}",
            hint=f"the seed's tolerance is {_pct(DEFAULT_TOLERANCE_PCT)}",
        )


def _pct(value: float) -> str:
    return f"{value:g}%"


def _regression(facts: Assessment, reasons: list[str]) -> Finding | None:
    pct = facts.regression_pct
    if pct is None or pct <= 0:
        reasons.append("no performance regression" + ("" if pct is None else f" ({_pct(pct)})"))
        return None
    question = "Performance regression?"
    if pct > REGRESSION_THRESHOLD_PCT:
        reasons.append(f"{_pct(pct)} slower is > {_pct(REGRESSION_THRESHOLD_PCT)}")
        return follow(question, ">20% slower", "Code-level rollback + Profile and optimize")
    reasons.append(f"{_pct(pct)} slower is not > {_pct(REGRESSION_THRESHOLD_PCT)}")
    return follow(question, "<20% slower", "Document in differences + Continue monitoring")


def _difference(facts: Assessment, reasons: list[str]) -> Finding | None:
    diff, tolerance = facts.difference_pct, facts.tolerance_pct
    if diff is None:
        reasons.append("no result difference measured")
        return None
    question = "Different results?"
    if abs(diff) <= tolerance:
        reasons.append(f"difference {_pct(diff)} is within the tolerance of {_pct(tolerance)}")
        return follow(question, "Within tolerance", "Document")
    reasons.append(f"difference {_pct(diff)} is outside the tolerance of {_pct(tolerance)}")
    if facts.intentional is None:
        reasons.append("not yet known whether the difference is intentional or a bug")
        return follow(question, "Outside tolerance", "Investigate")
    if facts.intentional:
        reasons.append("the difference is intentional")
        return follow(question, "Outside tolerance", "Investigate", "Intentional", "Document")
    reasons.append("the difference is a bug")
    return follow(question, "Outside tolerance", "Investigate", "Bug", "Rollback + Fix")


def decide(facts: Assessment) -> Decision:
    """Walk seed 000's decision tree for ``facts``.

    Raises:
        InvalidInputError: a number is not finite, or the tolerance is negative.
    """
    _validate(facts)
    reasons: list[str] = []
    findings: list[Finding] = []
    if facts.crash_or_data_loss:
        reasons.append("crash or data loss: critical, which takes priority over everything")
        critical = ("Critical (crash, data loss)?", "Yes")
        findings.append(follow(*critical, "Immediate Rollback (env var) + Open critical issue"))
    else:
        reasons.append("no crash or data loss")
    for branch in (_regression, _difference):
        finding = branch(facts, reasons)
        if finding is not None:
            findings.append(finding)
    if not findings:
        reasons.append("none of the tree's questions applies: another kind of issue")
        findings.append(follow("Other issue?", "Investigate before rollback"))
    findings.sort(key=lambda f: _URGENCY[f.outcome])
    chosen, outcome = findings[0], OUTCOMES[findings[0].outcome]
    return Decision(
        outcome.code,
        outcome.summary,
        outcome.strategy,
        chosen.path,
        tuple(reasons),
        outcome.actions,
        outcome.source,
        tuple(findings[1:]),
        facts,
    )


def render_tree(node: Node = TREE, indent: str = "") -> list[str]:
    """The tree as indented text lines, outcome codes in brackets."""
    suffix = f"  [{node.outcome}]" if node.outcome else ""
    lines = [f"{indent}{node.label}{suffix}"]
    for child in node.children:
        lines += render_tree(child, indent + "    ")
    return lines
