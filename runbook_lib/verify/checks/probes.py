"""How an env check calls the target: one probe of the env worker in a process of its own.

:func:`worker_call` starts the env worker (:mod:`runbook_lib.target.worker.envprobes`)
under the target's interpreter with the environment
:func:`runbook_lib.verify.checks.targetproc.target_env` builds, makes one call and
turns any failure into a failed :class:`TargetRun`; the checks of
:mod:`runbook_lib.verify.checks.env` and the others that probe the env use it.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from runbook_lib.base.errors import RunbookError
from runbook_lib.base.report import CheckResult
from runbook_lib.target.interpreter import target_interpreter
from runbook_lib.target.manifest import Manifest
from runbook_lib.target.specs import EnvSpec
from runbook_lib.target.worker.client import WORKER_FILE, EnvWorker, TargetCallError
from runbook_lib.verify.checks.targetproc import TargetRun, target_env


def factory_input(manifest: Manifest, value: Any = None) -> dict[str, Any]:
    """The factory's config and kwargs as the env worker takes them (as parity passes them).

    ``[env] config``'s loader or builder makes the config object; without one the
    factory gets ``value`` as it is.
    """
    env = manifest.env
    switch = env.config if env else None
    found = switch.factory_config(manifest.root) if switch is not None else None
    config = dict(found) if found is not None else {"value": value}
    return {"config": config, "kwargs": dict(env.factory_kwargs) if env else {}}


def run_probe(
    manifest: Manifest, env: EnvSpec, op: str, *, timeout: float = 300.0, **args: Any
) -> tuple[TargetRun, dict[str, Any] | None]:
    """Run one probe call on ``env``'s factory; see :func:`worker_call`."""
    return worker_call(manifest, op, timeout=timeout, factory=env.factory, **args)


def worker_call(
    manifest: Manifest, op: str, *, timeout: float = 300.0, **args: Any
) -> tuple[TargetRun, dict[str, Any] | None]:
    """Run one probe call of the env worker in the target's interpreter; its result if any.

    The worker runs with the environment :func:`target_env` builds (the
    rollback's variables applied); a failure of the worker or of the probe
    itself comes back as a failed :class:`TargetRun` with the one-line reason.
    """
    environ, evidence = target_env(manifest)
    started = time.perf_counter()
    result: dict[str, Any] | None = None
    code, error = 0, ""
    try:
        python = target_interpreter(manifest).path
    except RunbookError as exc:
        python, code, error = Path(sys.executable), 2, exc.message
    argv = [str(python), str(WORKER_FILE), op]
    if not error:
        try:
            with EnvWorker(python, manifest.root, env=environ, timeout_s=timeout) as worker:
                result = worker.call(op, **args)
        except TargetCallError as exc:  # the target's own error, as its traceback ends
            code, error = 1, f"{exc.kind}: {exc.detail}"
        except RunbookError as exc:
            code, error = 1, exc.message
    run = TargetRun(
        argv, str(manifest.root), code, "", error, time.perf_counter() - started, evidence
    )
    return run, result if run.ok else None


def skip(name: str, why: str) -> CheckResult:
    """A non-blocking skip of check ``name``, saying why."""
    return CheckResult(name, "skip", why, blocking=False)


def child_failed(
    name: str, run: TargetRun, elapsed: float, what: str, *, blocking: bool = True
) -> CheckResult:
    """Check ``name`` failed because its child process (``what``) did not give a result."""
    why = run.failure() or "wrote no result"
    return CheckResult(name, "fail", f"{what} {why}", run.evidence(), elapsed, blocking)
