"""Validate how the manifest's ``[parity]`` section says parity runs.

``[parity]`` holds the margins and the Ray address
(:mod:`runbook_lib.target.service_sections`) and, here, what a lockstep run
compares and drives: ``metrics``, ``min_step_agreement``, ``atol``/``rtol``,
``fresh_env``, ``policy``, ``algorithms``, and the two sides
``[parity.legacy]`` / ``[parity.candidate]`` (``env_type``, optional ``python``
and ``ref``). Without any of them parity does what it always did: the same
interpreter and tree, ``legacy`` against ``unified``, a random policy, exact
comparison, every step required to agree.
"""

import re
from pathlib import PurePosixPath
from typing import NamedTuple

from runbook_lib.target.sections import SB3_ALGOS, matched, rel_path
from runbook_lib.target.tomlcheck import Table

RUN_KEYS = (
    "metrics",
    "min_step_agreement",
    "atol",
    "rtol",
    "fresh_env",
    "policy",
    "algorithms",
    "legacy",
    "candidate",
)
_SIDE_KEYS = ("env_type", "python", "ref")
_ENTRY_POINT = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")
_INFO_KEY = re.compile(r"^[A-Za-z_][\w.-]*$")
_REF = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_./@^~+-]*$")
RANDOM = "random"


class ParitySide(NamedTuple):
    """One side of a parity run.

    Attributes:
        env_type: What the factory is asked for (``legacy``, ``unified``...).
        python: Its interpreter: absolute, or relative to the target's root
            (``None``: the target's own, ``[target] python``).
        ref: A git ref checked out in a temporary worktree for this side
            (``None``: the target's tree as it is).
    """

    env_type: str
    python: str | None = None
    ref: str | None = None


class ParityPolicy(NamedTuple):
    """Who picks the actions: ``random``, ``model`` (a file) or ``entry_point``.

    Attributes:
        kind: ``random``, ``model`` or ``entry_point``.
        value: The model file (relative to the root) or the entry point.
    """

    kind: str = RANDOM
    value: str | None = None


class ParitySettings(NamedTuple):
    """The ``[parity]`` keys that shape a lockstep run (defaults: today's behaviour)."""

    metrics: tuple[str, ...] | None = None
    min_step_agreement: float = 1.0
    atol: float = 0.0
    rtol: float = 0.0
    fresh_env: bool = False
    policy: ParityPolicy = ParityPolicy()
    algorithms: tuple[str, ...] = ()
    legacy: ParitySide = ParitySide("legacy")
    candidate: ParitySide = ParitySide("unified")


def _flag(table: Table, key: str, default: bool) -> bool:
    value = table.data.get(key, default)
    if not isinstance(value, bool):
        table.fail(key, f"must be true or false, got {type(value).__name__} {value!r}")
    return value


def _tolerance(table: Table, key: str) -> float:
    value = table.number(key, 0.0)
    if value < 0:
        table.fail(key, f"{value} must not be negative (0 compares exactly)")
    return value


def _fraction(table: Table, key: str, default: float) -> float:
    value = table.number(key, default)
    if not 0.0 <= value <= 1.0:
        table.fail(key, f"{value} must lie between 0 and 1 (1.0: every step must agree)")
    return value


def _metrics(table: Table) -> tuple[str, ...] | None:
    if not table.has("metrics"):
        return None
    names = table.texts("metrics")
    for name in names:
        if not _INFO_KEY.match(name):
            table.fail("metrics", f"{name!r} is not an info key name")
    if len(set(names)) != len(names):
        table.fail("metrics", "lists a key twice")
    return names


def _policy(table: Table) -> ParityPolicy:
    text = table.opt_text("policy")
    if text is None or text == RANDOM:
        return ParityPolicy()
    if ":" in text:
        what = "an entry point like 'package.module:make_policy'"
        return ParityPolicy("entry_point", matched(table, "policy", _ENTRY_POINT, what))
    if not text.endswith(".zip"):
        table.fail(
            "policy",
            f"{text!r} is neither 'random', a model file (.zip) nor an entry point",
            hint="write 'random', 'models/ppo.zip' or 'pkg.module:make_policy'",
        )
    return ParityPolicy("model", rel_path(table, "policy"))


def _algorithms(table: Table) -> tuple[str, ...]:
    names = table.texts("algorithms", required=False)
    for name in names:
        if name.upper() not in SB3_ALGOS and not _ENTRY_POINT.match(name):
            table.fail(
                "algorithms",
                f"{name!r} is neither a stable-baselines3 algorithm nor an entry point",
                hint=f"one of {', '.join(SB3_ALGOS)}, or 'pkg.module:train' (called with the env)",
            )
    return tuple(name.upper() if name.upper() in SB3_ALGOS else name for name in names)


def _side(table: Table, key: str, default: str) -> ParitySide:
    side = table.opt_table(key, _SIDE_KEYS)
    if side is None:
        return ParitySide(default)
    env_type = side.opt_text("env_type") or default
    python = side.opt_text("python")
    if python is not None and not PurePosixPath(python).is_absolute():
        python = rel_path(side, "python")
    ref = side.opt_text("ref")
    if ref is not None and (not _REF.match(ref) or ".." in ref):
        side.fail("ref", f"{ref!r} is not a git ref name", hint="a tag, branch or commit: 'v1.0'")
    return ParitySide(env_type, python, ref)


def parity_settings(top: Table, accepted: tuple[str, ...]) -> ParitySettings:
    """The lockstep keys of ``[parity]`` (``accepted``: every key the section may hold).

    Raises:
        InvalidInputError: a key has the wrong type or value; the message names it.
    """
    table = top.opt_table("parity", accepted)
    if table is None:
        return ParitySettings()
    return ParitySettings(
        metrics=_metrics(table),
        min_step_agreement=_fraction(table, "min_step_agreement", 1.0),
        atol=_tolerance(table, "atol"),
        rtol=_tolerance(table, "rtol"),
        fresh_env=_flag(table, "fresh_env", False),
        policy=_policy(table),
        algorithms=_algorithms(table),
        legacy=_side(table, "legacy", "legacy"),
        candidate=_side(table, "candidate", "unified"),
    )
