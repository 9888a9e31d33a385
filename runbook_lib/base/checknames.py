"""The names of the verification checks: one kebab-case vocabulary, and the old names as aliases.

Verification (``runbook_lib.verify``) produces these names and rollback
(``runbook_lib.rollback.strategies``) lists them in its checklists; rollback is
below verify, so the vocabulary lives here where both may import it.

Names written before this vocabulary (``check_env``, ``env.check_env``,
``service.health``, ...) are accepted wherever a user or a file can hold one:
:func:`parse_check_name` maps them to the new name and, for what a user typed,
prints a one-line deprecation note on stderr. Old archives are never rewritten.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from enum import StrEnum

from runbook_lib.base.errors import InvalidInputError


class CheckName(StrEnum):
    """Every check ``runbook verify`` runs or reports, in the order it runs them."""

    INTEGRITY = "integrity"
    CONFIG = "config"
    MODELS = "models"
    TARGET_TESTS = "target-tests"
    TRADING = "trading"
    SERVICE_HEALTH = "service-health"
    SERVICE_PERFORMANCE = "service-performance"
    CHECK_ENV = "check-env"
    FACTORY_RESOLUTION = "factory-resolution"
    DETERMINISM = "determinism"
    TRAINING_SMOKE = "training-smoke"
    MONITORING = "monitoring"
    SERVICE_START = "service-start"
    """Not selectable: the step ``--start-service`` adds before the service checks."""


SELECTABLE: tuple[CheckName, ...] = tuple(n for n in CheckName if n is not CheckName.SERVICE_START)
"""The names a user may select (``runbook verify --checks``)."""

ALIASES: dict[str, CheckName] = {
    "service.health": CheckName.SERVICE_HEALTH,
    "service.performance": CheckName.SERVICE_PERFORMANCE,
    "service.start": CheckName.SERVICE_START,
    "check_env": CheckName.CHECK_ENV,
    "env.check_env": CheckName.CHECK_ENV,
    "factory_resolution": CheckName.FACTORY_RESOLUTION,
    "env.factory_resolution": CheckName.FACTORY_RESOLUTION,
    "env.determinism": CheckName.DETERMINISM,
    "training_smoke": CheckName.TRAINING_SMOKE,
    "env.training_smoke": CheckName.TRAINING_SMOKE,
    "env.monitoring": CheckName.MONITORING,
}
"""Old check names (registry names and the names older check records hold) -> new names."""


def deprecation_note(old: str, new: CheckName) -> str:
    """The one line printed when an old name is used."""
    return f"runbook: note: check name {old!r} is deprecated; use {new.value!r}"


def parse_check_name(text: str, *, note: bool = True) -> CheckName | None:
    """The check ``text`` names (``None``: no check has that name, old or new).

    An old name maps to its new one; with ``note`` a deprecation line goes to stderr.
    """
    try:
        return CheckName(text)
    except ValueError:
        pass
    new = ALIASES.get(text)
    if new is not None and note:
        print(deprecation_note(text, new), file=sys.stderr)
    return new


def record_check_name(text: object) -> object:
    """A check record's name as the new vocabulary spells it (other values unchanged, no note).

    For reading archives: sealed files keep the names they were written with.
    """
    if not isinstance(text, str):
        return text
    found = parse_check_name(text, note=False)
    return found.value if found is not None else text


def parse_check_names(texts: Iterable[str]) -> list[CheckName]:
    """The selectable checks named, old names mapped (with a note each).

    Raises:
        InvalidInputError: a name is neither a check nor an old name; the message lists the names.
    """
    names: list[CheckName] = []
    unknown: list[str] = []
    for text in texts:
        found = parse_check_name(text)
        if found is None or found not in SELECTABLE:
            unknown.append(text)
        else:
            names.append(found)
    if unknown:
        valid = ", ".join(SELECTABLE)
        raise InvalidInputError(
            f"unknown check(s): {', '.join(unknown)}", hint=f"choose from: {valid}"
        )
    return names
