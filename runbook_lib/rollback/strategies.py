"""Rollback strategies: which actions, in which order, built from a target's manifest.

============  ==============================================================
``env-var``   seed 000 §1.1: immediate rollback by environment variables
``config``    seed 000 §1.3: ``[rl] use_unified_env = false``
``code``      seed 000 §1.2: the designated call site asks for the legacy env
``force``     seed 000 §1.4: ``_FORCE_LEGACY_ENV = True`` (global)
``now``       the immediate fast path (seed 000 §2, §3.1): ``env-var`` alone
``sac-full``  seed 003's phases: code and docs from git, configs and models from
              verified backups, the package downgrade, the service restart
``sac-code``  seed 003 phase 2 (implementation or testing failure, not deployed):
              step 4 code and step 6 docs from the stable ref, step 5 configuration
              from a verified backup; phase 3's tests verify it
``sac-deploy`` seed 003 phase 4 (deployment failure): step 11 stop, step 10 the
              package downgrade, step 11 start with the health wait
``sac-data``  seed 003 recovery steps 2 and 3 (data corruption): models and
              configuration from a verified backup, then the service restart
============  ==============================================================
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import TYPE_CHECKING

from runbook_lib.base.checknames import CheckName
from runbook_lib.base.errors import InvalidInputError

if TYPE_CHECKING:
    from runbook_lib.rollback.actions.base import Action
    from runbook_lib.target.manifest import Manifest
    from runbook_lib.target.specs import EnvSpec


class Strategy(StrEnum):
    """A rollback strategy's name, as plans and the journal record it."""

    ENV_VAR = "env-var"
    CONFIG = "config"
    CODE = "code"
    FORCE = "force"
    NOW = "now"
    SAC_FULL = "sac-full"
    SAC_CODE = "sac-code"
    SAC_DEPLOY = "sac-deploy"
    SAC_DATA = "sac-data"
    # Changes the target (the differences document) without rolling anything back.
    DOCUMENT_DIFFERENCE = "document-difference"
    # Changes nothing: seed 000 §2 says to investigate before any rollback.
    INVESTIGATE = "investigate"


# Each builder imports its action modules itself: 'runbook rollback now' must not
# load the service, package and git actions (psutil, subprocess, ast) it never runs.

Builder = Callable[["Manifest", str], list["Action"]]


def _env(manifest: Manifest, strategy: str) -> EnvSpec:
    if manifest.env is None:
        raise InvalidInputError(
            f"strategy {strategy!r} needs an [env] table in {manifest.path}",
            hint="describe the env factory and its switches there",
        )
    return manifest.env


def _missing(manifest: Manifest, table: str, strategy: str) -> InvalidInputError:
    return InvalidInputError(
        f"strategy {strategy!r} needs [{table}] in {manifest.path}",
        hint=f"add [{table}] to the manifest or choose another strategy",
    )


def env_var(manifest: Manifest, incident: str) -> list[Action]:
    """Seed 000 §1.1."""
    from runbook_lib.rollback.actions.envflags import EnvVarAction

    env = _env(manifest, "env-var")
    if not env.vars:
        raise _missing(manifest, "env.vars", "env-var")
    variables = {switch.name: switch.legacy for switch in env.vars}
    return [EnvVarAction(variables, note=f"incident {incident}: immediate rollback (seed 000 1.1)")]


def config_flag(manifest: Manifest, incident: str) -> list[Action]:
    """Seed 000 §1.3."""
    from runbook_lib.rollback.actions.envflags import ConfigFlagAction

    switch = _env(manifest, "config").config
    if switch is None:
        raise _missing(manifest, "env.config", "config")
    from runbook_lib.rollback.honoured import config_switch_problem, refusal

    problem = config_switch_problem(manifest)
    if problem is not None:
        raise refusal(manifest, "config", problem)
    return [ConfigFlagAction(switch.file, switch.section, switch.key, switch.legacy)]


def code_level(manifest: Manifest, incident: str) -> list[Action]:
    """Seed 000 §1.2."""
    from runbook_lib.rollback.actions.envflags import CodeLevelAction

    env = _env(manifest, "code")
    if env.call_site is None:
        raise _missing(manifest, "env.call_site", "code")
    enum_name = env.env_type.rsplit(":", 1)[-1].rsplit(".", 1)[-1] if env.env_type else "EnvType"
    return [
        CodeLevelAction(
            env.call_site.file,
            env.call_site.function,
            keyword=env.call_site.keyword,
            enum_name=enum_name,
        )
    ]


def force_flag(manifest: Manifest, incident: str) -> list[Action]:
    """Seed 000 §1.4."""
    from runbook_lib.rollback.actions.envflags import ForceFlagAction

    flag = _env(manifest, "force").force_flag
    if flag is None:
        raise _missing(manifest, "env.force_flag", "force")
    from runbook_lib.rollback.honoured import force_flag_problem, refusal

    problem = force_flag_problem(manifest)
    if problem is not None:
        raise refusal(manifest, "force", problem)
    return [ForceFlagAction(flag.file, flag.constant, True)]


def immediate(manifest: Manifest, incident: str) -> list[Action]:
    """The fast path of ``runbook rollback now``: the env-var switch alone.

    Seed 000 §2 sends a critical issue to the immediate rollback by environment
    variable (§1.1, §3.1 "set USE_UNIFIED_ENV=0"); the config file (§1.3) is the
    persistent, per-experiment rollback, a tracked change made on purpose with
    the ``config`` strategy. The variables live in ``.runbook/rollback.env``,
    which the target's git ignores, so its ``git status`` stays clean.
    """
    return env_var(manifest, incident)


def _code(manifest: Manifest, strategy: str, *, models: bool) -> list[Action]:
    """Steps 4 and 6 from the stable ref, step 5 from a verified backup (with the models or not)."""
    from runbook_lib.rollback.actions.backup import BackupRestoreAction
    from runbook_lib.rollback.actions.gitrestore import GitRestoreAction

    if not manifest.git.code_paths:
        raise _missing(manifest, "git.code_paths", strategy)
    actions: list[Action] = [GitRestoreAction(manifest.git.stable_ref, manifest.git.code_paths)]
    if manifest.backups is not None:
        keep = () if models or manifest.models is None else (manifest.models.glob,)
        actions.append(
            BackupRestoreAction(manifest.backups.dir, manifest.backups.checksum_file, exclude=keep)
        )
    return actions


def _bracketed(manifest: Manifest, inner: list[Action]) -> list[Action]:
    """Stop the service before ``inner`` and start it (with the health wait) after."""
    from runbook_lib.rollback.actions.servicectl import ServiceStartAction, ServiceStopAction

    if manifest.service is None:
        return inner
    return [ServiceStopAction(manifest.service), *inner, ServiceStartAction(manifest.service)]


def _package(manifest: Manifest, strategy: str) -> list[Action]:
    from runbook_lib.rollback.actions.package import PackageAction

    if manifest.package is None:
        raise _missing(manifest, "package", strategy)
    pkg = manifest.package
    return [PackageAction(pkg.name, pkg.stable_version, pkg.wheelhouse, pkg.site_dir)]


def sac_full(manifest: Manifest, incident: str) -> list[Action]:
    """Seed 003's phases 2 and 4 in order, bracketed by the service's stop and start."""
    inner = _code(manifest, "sac-full", models=True)
    if manifest.package is not None:
        inner += _package(manifest, "sac-full")
    return _bracketed(manifest, inner)


def sac_code(manifest: Manifest, incident: str) -> list[Action]:
    """Seed 003 phase 2: steps 4 and 6 from the stable ref, step 5 from a verified backup.

    The models stay as they are: restoring them is the data recovery (``sac-data``).
    """
    return _code(manifest, "sac-code", models=False)


def sac_deploy(manifest: Manifest, incident: str) -> list[Action]:
    """Seed 003 phase 4: step 11's stop, step 10's downgrade, step 11's start and health wait."""
    return _bracketed(manifest, _package(manifest, "sac-deploy"))


def sac_data(manifest: Manifest, incident: str) -> list[Action]:
    """Seed 003 recovery steps 2 and 3: models and configuration from a verified backup, restart."""
    from runbook_lib.rollback.actions.backup import BackupRestoreAction

    if manifest.backups is None:
        raise _missing(manifest, "backups", "sac-data")
    restore = BackupRestoreAction(manifest.backups.dir, manifest.backups.checksum_file)
    return _bracketed(manifest, [restore])


# The strategies that roll nothing back (seed 000 §2: investigate, or document the
# difference). They have no builder: the rollback operations plan them from the
# incident's records, and undo skips their plans.
NOT_ROLLBACKS = frozenset({Strategy.DOCUMENT_DIFFERENCE, Strategy.INVESTIGATE})

STRATEGIES: dict[str, Builder] = {
    Strategy.ENV_VAR: env_var,
    Strategy.CONFIG: config_flag,
    Strategy.CODE: code_level,
    Strategy.FORCE: force_flag,
    Strategy.NOW: immediate,
    Strategy.SAC_FULL: sac_full,
    Strategy.SAC_CODE: sac_code,
    Strategy.SAC_DEPLOY: sac_deploy,
    Strategy.SAC_DATA: sac_data,
}


_STOP = "Step 11: Production Environment (stop the service)"
_START = "Step 11: Production Environment (start the service, health check)"
_CODE_DOCS = "Step 4: Code Rollback + Step 6: Documentation Rollback"
_PACKAGE = "Step 10: Development Environment (downgrade the package)"
# Each seed 003 strategy's steps in the seed's own words, by the action that does them.
SEED_STEPS: dict[str, dict[str, str]] = {
    "sac-code": {"git-restore": _CODE_DOCS, "backup-restore": "Step 5: Configuration Rollback"},
    "sac-deploy": {"service-stop": _STOP, "package": _PACKAGE, "service-start": _START},
    "sac-data": {
        "service-stop": "Recovery Step 3: Service Restoration (stop the service)",
        "backup-restore": "Recovery Step 2: Data Recovery (models and configuration)",
        "service-start": "Recovery Step 3: Service Restoration (restart, health check)",
    },
    "sac-full": {
        "service-stop": _STOP,
        "git-restore": _CODE_DOCS,
        "backup-restore": "Step 5: Configuration Rollback + Recovery Step 2: Data Recovery",
        "package": _PACKAGE,
        "service-start": _START,
    },
}


def step_labels(strategy: str) -> dict[str, str]:
    """The seed's name for each action of ``strategy`` (empty: the seed names none)."""
    return dict(SEED_STEPS.get(strategy, {}))


def build_actions(strategy: str, manifest: Manifest, incident: str) -> list[Action]:
    """The actions of ``strategy`` for the target ``manifest`` describes.

    Raises:
        InvalidInputError: unknown strategy, or the manifest lacks what it needs.
    """
    try:
        builder = STRATEGIES[strategy]
    except KeyError:
        known = ", ".join([*STRATEGIES, *sorted(NOT_ROLLBACKS)])
        hint = f"choose one of: {known}"
        raise InvalidInputError(f"unknown strategy {strategy!r}", hint=hint) from None
    return builder(manifest, incident)


_ENV_CHECKLIST = (
    CheckName.CHECK_ENV,
    CheckName.FACTORY_RESOLUTION,
    CheckName.DETERMINISM,
    CheckName.TRAINING_SMOKE,
    CheckName.MONITORING,
    CheckName.TARGET_TESTS,
)
_SAC_FULL_CHECKLIST = (
    CheckName.INTEGRITY,
    CheckName.CONFIG,
    CheckName.MODELS,
    CheckName.TARGET_TESTS,
    CheckName.TRADING,
    CheckName.SERVICE_HEALTH,
    CheckName.SERVICE_PERFORMANCE,
)
CHECKLISTS: dict[str, tuple[CheckName, ...]] = {
    "env-var": _ENV_CHECKLIST,
    "config": _ENV_CHECKLIST,
    "force": _ENV_CHECKLIST,
    "now": _ENV_CHECKLIST,
    # A code-level rollback pins one call site; the factory itself still builds
    # the new env for everyone else, so its resolution is not the check.
    "code": tuple(n for n in _ENV_CHECKLIST if n is not CheckName.FACTORY_RESOLUTION),
    "sac-code": (CheckName.INTEGRITY, CheckName.CONFIG, CheckName.TARGET_TESTS),
    "sac-deploy": (
        CheckName.TARGET_TESTS,
        CheckName.TRADING,
        CheckName.SERVICE_HEALTH,
        CheckName.SERVICE_PERFORMANCE,
    ),
    "sac-data": (
        CheckName.INTEGRITY,
        CheckName.CONFIG,
        CheckName.MODELS,
        CheckName.SERVICE_HEALTH,
    ),
    "sac-full": _SAC_FULL_CHECKLIST,
}


def checklist(strategy: str | None) -> list[CheckName] | None:
    """The verification checks that prove ``strategy``'s rollback (None: every check)."""
    return list(CHECKLISTS[strategy]) if strategy in CHECKLISTS else None
