"""Whether the target honours a switch its manifest declares, proven at plan time.

A manifest may declare a switch the target does not have: a force constant
missing from its module, or a config key the factory never reads. Writing it
would change text and nothing else. :func:`force_flag_problem` reads the
module; :func:`config_switch_problem` builds the env through the factory in
the target's interpreter from a temporary copy of the config file with the
legacy value set (the factory's config made by the manifest's loader), and
compares its unwrapped class with an explicitly built legacy env.
:func:`refusal` turns a problem into the one-line refusal that names what is
missing and the strategies that do work.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from runbook_lib.base.errors import InvalidInputError, RunbookError
from runbook_lib.target import inifile
from runbook_lib.target.interpreter import target_interpreter
from runbook_lib.target.manifest import Manifest
from runbook_lib.target.specs import EnvSpec
from runbook_lib.target.worker.client import EnvWorker, build_env


def force_flag_problem(manifest: Manifest) -> str | None:
    """Why the declared force constant cannot force anything (None: it exists)."""
    from runbook_lib.rollback.actions import pyedit

    flag = manifest.env.force_flag if manifest.env else None
    if flag is None:
        return None
    path = manifest.root / flag.file
    if not path.is_file():
        return f"{flag.file} does not exist"
    try:
        pyedit.read_constant(path.read_text(encoding="utf-8"), flag.constant, filename=flag.file)
    except InvalidInputError:
        return f"{flag.file} has no module constant {flag.constant}"
    return None


def _unwrapped(worker: EnvWorker, env: EnvSpec, handle: str, **build: object) -> str:
    remote = build_env(
        worker,
        env.factory,
        handle=handle,
        kwargs=env.factory_kwargs,
        **build,  # type: ignore[arg-type]
    )
    return str(remote.built["identity"]["unwrapped"])


def config_switch_problem(manifest: Manifest) -> str | None:
    """Why writing the config switch would not select the legacy env (None: it does).

    Only a switch with a ``loader`` can be proven here (the worker hands the
    loader a copy of the file); without one the answer is None.
    """
    env = manifest.env
    switch = env.config if env else None
    if env is None or switch is None or switch.loader is None:
        return None
    source = manifest.root / switch.file
    if not source.is_file():
        return f"{switch.file} does not exist"
    text = inifile.set_value(
        source.read_text(encoding="utf-8"), switch.section, switch.key, switch.legacy
    )
    caller = {k: v for k, v in os.environ.items() if k not in {var.name for var in env.vars}}
    with tempfile.TemporaryDirectory(prefix="runbook-switch-") as tmp:
        copy = Path(tmp) / Path(switch.file).name
        copy.write_text(text, encoding="utf-8")
        config = {"loader": switch.loader, "file": str(copy)}
        try:
            with EnvWorker(target_interpreter(manifest).path, manifest.root, env=caller) as w:
                chosen = _unwrapped(w, env, "switched", env_type=None, config=config)
                legacy = _unwrapped(w, env, "legacy", env_type="legacy", config=config)
        except RunbookError as exc:
            return f"the factory could not be built to prove it: {exc.message}"
    if chosen == legacy:
        return None
    return (
        f"with [{switch.section}] {switch.key} = {switch.legacy} in {switch.file} the factory "
        f"still builds {chosen.rsplit('.', 1)[-1]}, not the legacy "
        f"{legacy.rsplit('.', 1)[-1]}: {env.factory} does not read that key"
    )


def working_strategies(manifest: Manifest) -> list[str]:
    """The env strategies this target honours (env-var and code whenever declared)."""
    env = manifest.env
    if env is None:
        return []
    found = ["env-var"] if env.vars else []
    if env.config is not None and config_switch_problem(manifest) is None:
        found.append("config")
    if env.force_flag is not None and force_flag_problem(manifest) is None:
        found.append("force")
    if env.call_site is not None:
        found.append("code")
    return found


class NotHonouredError(InvalidInputError):
    """The manifest declares the switch, but building the env proves the target ignores it."""


def refusal(manifest: Manifest, strategy: str, problem: str) -> NotHonouredError:
    """The plan-time refusal: what is missing, and which strategies work here."""
    working = [s for s in working_strategies(manifest) if s != strategy]
    return NotHonouredError(
        f"strategy {strategy!r} is not honoured by this target: {problem}",
        hint=f"strategies that work here: {', '.join(working) or 'none of the env switches'}",
    )
