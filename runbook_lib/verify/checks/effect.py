"""Effect, not text: after a rollback the target really builds its legacy env.

The env is built through the manifest's factory in a worker of the target's
interpreter (:mod:`runbook_lib.target.worker.client`), with exactly the
environment runbook gives the target's processes
(:func:`~runbook_lib.verify.checks.targetproc.target_env`: the rollback's
variables applied, the caller's switches removed). It must be the legacy env:
the same unwrapped class as an env built explicitly with ``env_type=legacy``
in the same worker, and the same fixed-seed trajectory fingerprint, so that a
wrapper both envs share is never taken for the rollback.

A code-level rollback pins one call site and leaves the factory's default
alone; its effect is the env that call site's script builds, read from the
factory's log of a short run of the script.
"""

from __future__ import annotations

from typing import Any

from runbook_lib.base.errors import RunbookError
from runbook_lib.base.report import CheckResult, timed
from runbook_lib.target.interpreter import target_interpreter
from runbook_lib.target.manifest import Manifest
from runbook_lib.target.specs import EnvSpec
from runbook_lib.target.worker.client import EnvWorker, RemoteEnv, build_env
from runbook_lib.verify.checks.env import LEGACY, check_training_smoke
from runbook_lib.verify.checks.probes import factory_input
from runbook_lib.verify.checks.targetproc import target_env

NAME = "env.effect"
CODE_LEVEL = "code"


def _identity(remote: RemoteEnv) -> dict[str, Any]:
    identity: dict[str, Any] = remote.built["identity"]
    return {
        "unwrapped": identity["unwrapped"],
        "wrappers": identity["wrappers"],
        "fingerprint": remote.fingerprint(seed=0),
        "log": remote.built.get("log", []),
    }


def built_envs(manifest: Manifest, env: EnvSpec, *, timeout: float) -> dict[str, Any]:
    """The legacy env built explicitly and the env the factory builds by default, identified.

    Raises:
        RunbookError: the worker failed, or the target's code raised.
    """
    interpreter = target_interpreter(manifest)
    environ, shaped = target_env(manifest)
    given = factory_input(manifest)  # the project's config object and kwargs, as parity builds
    with EnvWorker(interpreter.path, manifest.root, env=environ, timeout_s=timeout) as worker:
        reference = build_env(
            worker, env.factory, LEGACY, handle="legacy", logger=env.logger, **given
        )
        legacy = _identity(reference)
        default = build_env(worker, env.factory, None, handle="default", logger=env.logger, **given)
        built = _identity(default)
    return {
        "legacy": legacy,
        "default": built,
        "interpreter": str(interpreter.path),
        **shaped,
    }


def _short(qualname: str) -> str:
    return qualname.rsplit(".", 1)[-1]


def check_effect(manifest: Manifest, strategy: str, *, timeout: float = 120.0) -> CheckResult:
    """Whether the rollback in effect makes the target build its legacy env (see the module)."""
    if manifest.env is None:
        return CheckResult(NAME, "skip", "runbook.toml has no [env] section", blocking=False)
    with timed() as elapsed:
        try:
            envs = built_envs(manifest, manifest.env, timeout=timeout)
        except RunbookError as exc:
            return CheckResult(NAME, "fail", f"building the env failed: {exc.message}")
        if strategy == CODE_LEVEL:
            return _call_site_effect(manifest, envs, elapsed())
    legacy, default = envs["legacy"], envs["default"]
    if default["unwrapped"] != legacy["unwrapped"]:
        summary = (
            f"the factory still builds {_short(default['unwrapped'])}, "
            f"not the legacy {_short(legacy['unwrapped'])}"
        )
        return CheckResult(NAME, "fail", summary, envs, elapsed())
    if default["fingerprint"] != legacy["fingerprint"]:
        summary = (
            f"the factory builds {_short(default['unwrapped'])}, but its fixed-seed trajectory "
            f"differs from the legacy env's ({default['fingerprint'][:12]} vs "
            f"{legacy['fingerprint'][:12]})"
        )
        return CheckResult(NAME, "fail", summary, envs, elapsed())
    summary = (
        f"the factory builds the legacy {_short(legacy['unwrapped'])} "
        f"(same class and trajectory {legacy['fingerprint'][:12]} as env_type={LEGACY!r})"
    )
    return CheckResult(NAME, "pass", summary, envs, elapsed())


def _call_site_effect(manifest: Manifest, envs: dict[str, Any], elapsed: float) -> CheckResult:
    legacy = _short(envs["legacy"]["unwrapped"])
    smoke = check_training_smoke(manifest)
    chosen = smoke.evidence.get("env_chosen")
    evidence = {**envs, "call_site_run": smoke.to_dict()}
    if smoke.status != "pass":
        return CheckResult(NAME, "fail", f"the call site's script: {smoke.summary}", evidence)
    if not chosen:
        summary = "the call site's script ran, but the factory logged no env choice to prove it"
        return CheckResult(NAME, "fail", summary, evidence, elapsed)
    if chosen["class"] != legacy:
        summary = f"the call site still builds {chosen['class']}, not the legacy {legacy}"
        return CheckResult(NAME, "fail", summary, evidence, elapsed)
    summary = f"the call site builds the legacy {legacy}: {chosen['log']}"
    return CheckResult(NAME, "pass", summary, evidence, elapsed + smoke.duration_s)


def check_code_restored(manifest: Manifest) -> CheckResult:
    """Seed 003 step 4's effect: every ``[git] code_paths`` entry equals the stable ref's."""
    from runbook_lib.target.gitutil import git

    ref, paths = manifest.git.stable_ref, list(manifest.git.code_paths)
    changed = git(manifest.root, ["diff", "--name-only", ref, "--", *paths], check=False)
    names = [line for line in changed.splitlines() if line]
    evidence: dict[str, Any] = {"stable_ref": ref, "code_paths": paths, "differing": names[:20]}
    if names:
        more = f" (+{len(names) - 3} more)" if len(names) > 3 else ""
        summary = f"{', '.join(names[:3])}{more} still differ from {ref}"
        return CheckResult(NAME, "fail", summary, evidence)
    return CheckResult(NAME, "pass", f"{', '.join(paths)} equal {ref}", evidence)
