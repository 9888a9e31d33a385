"""Every action type, by the name a plan step records.

The table is explicit and names every action module, so that a fresh process
that only loads a saved plan (``apply``, ``resume``, ``undo``) knows every
action any strategy can plan, whatever was imported while planning. A module
is imported only when a step needs its action: ``runbook rollback now`` (an
env-var step) must not pay for the service, package and git actions.
"""

from __future__ import annotations

import importlib
from types import MappingProxyType

from runbook_lib.base.errors import InvalidInputError
from runbook_lib.rollback.actions.base import Action
from runbook_lib.rollback.actions.model import Step

_PACKAGE = "runbook_lib.rollback.actions"

# name -> "module:class" below runbook_lib.rollback.actions (a test imports each one
# and checks that its class records this name).
ACTIONS: MappingProxyType[str, str] = MappingProxyType(
    {
        "env-var": "envflags:EnvVarAction",
        "config-flag": "envflags:ConfigFlagAction",
        "force-flag": "envflags:ForceFlagAction",
        "code-level": "envflags:CodeLevelAction",
        "git-restore": "gitrestore:GitRestoreAction",
        "backup-restore": "backup:BackupRestoreAction",
        "package": "package:PackageAction",
        "service-stop": "servicectl:ServiceStopAction",
        "service-start": "servicectl:ServiceStartAction",
        "differences-entry": "differences:DifferencesEntryAction",
    }
)


def action_type(name: str) -> type[Action]:
    """The action class that records steps as ``name``.

    Raises:
        InvalidInputError: this version knows no action of that name.
    """
    where = ACTIONS.get(name)
    if where is None:
        raise InvalidInputError(
            f"unknown action {name!r} in plan",
            hint=f"known actions: {', '.join(sorted(ACTIONS))}",
        )
    module, _, attribute = where.partition(":")
    found = getattr(importlib.import_module(f"{_PACKAGE}.{module}"), attribute)
    if not (isinstance(found, type) and issubclass(found, Action)):
        raise TypeError(f"{where} is not an action class")
    return found


def action_for(step: Step) -> Action:
    """Rebuild the action that planned ``step``.

    Raises:
        InvalidInputError: the step names an action this version does not know.
    """
    return action_type(step.action).from_params(step.params)
