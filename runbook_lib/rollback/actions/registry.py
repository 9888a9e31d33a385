"""Every action type, by the name a plan step records.

The table is explicit and imports every action module, so that a fresh process
that only loads a saved plan (``apply``, ``resume``, ``undo``) knows every
action any strategy can plan, whatever was imported while planning.
"""

from __future__ import annotations

from types import MappingProxyType

from runbook_lib.base.errors import InvalidInputError
from runbook_lib.rollback.actions.backup import BackupRestoreAction
from runbook_lib.rollback.actions.base import Action
from runbook_lib.rollback.actions.differences import DifferencesEntryAction
from runbook_lib.rollback.actions.envflags import (
    CodeLevelAction,
    ConfigFlagAction,
    EnvVarAction,
    ForceFlagAction,
)
from runbook_lib.rollback.actions.gitrestore import GitRestoreAction
from runbook_lib.rollback.actions.model import Step
from runbook_lib.rollback.actions.package import PackageAction
from runbook_lib.rollback.actions.servicectl import ServiceStartAction, ServiceStopAction

_TYPES: tuple[type[Action], ...] = (
    EnvVarAction,
    ConfigFlagAction,
    ForceFlagAction,
    CodeLevelAction,
    GitRestoreAction,
    BackupRestoreAction,
    PackageAction,
    ServiceStopAction,
    ServiceStartAction,
    DifferencesEntryAction,
)
ACTIONS: MappingProxyType[str, type[Action]] = MappingProxyType({t.name: t for t in _TYPES})


def action_for(step: Step) -> Action:
    """Rebuild the action that planned ``step``.

    Raises:
        InvalidInputError: the step names an action this version does not know.
    """
    try:
        action_cls = ACTIONS[step.action]
    except KeyError:
        raise InvalidInputError(
            f"unknown action {step.action!r} in plan",
            hint=f"known actions: {', '.join(sorted(ACTIONS))}",
        ) from None
    return action_cls.from_params(step.params)
