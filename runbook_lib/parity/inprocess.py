"""Running the target's code in this process: fresh imports, the envs probed, failures in one line.

The target's modules are imported in this process (and in forked workers): a
run first forgets any module of the factory's top-level package, so a second
run on another workspace, or after a rollback edited the source, imports the
files as they are now; no bytecode is written into the target.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from runbook_lib.base.errors import RunbookError, WorkspaceError
from runbook_lib.parity.lockstep import ParitySpec
from runbook_lib.target.entrypoint import load_entry_point, parse_entry_point
from runbook_lib.target.probes.envprobe import captured_log


def _forget_package(package: str) -> None:
    for name in [n for n in sys.modules if n == package or n.startswith(package + ".")]:
        del sys.modules[name]


@contextlib.contextmanager
def target_imports(root: Path, factory: str) -> Iterator[None]:
    """Import the target's code fresh from ``root`` inside the block; restore afterwards."""
    package = parse_entry_point(factory)[0].split(".")[0]
    cwd, path, bytecode = os.getcwd(), list(sys.path), sys.dont_write_bytecode
    _forget_package(package)
    sys.path.insert(0, str(root))
    sys.dont_write_bytecode = True  # a parity run leaves nothing behind in the target
    try:
        yield
    finally:
        os.chdir(cwd)
        sys.path[:] = path
        sys.dont_write_bytecode = bytecode
        _forget_package(package)


def probe_envs(spec: ParitySpec, logger: str | None) -> dict[str, Any]:
    """Build both envs once, with the factory's log lines, before any episode runs.

    Raises:
        WorkspaceError: the factory fails, or builds one class for both env
            types (a global rollback such as ``_FORCE_LEGACY_ENV`` is on).
    """
    factory = load_entry_point(spec.factory)
    found: dict[str, Any] = {}
    for role, env_type in (("legacy", spec.legacy), ("candidate", spec.candidate)):
        with captured_log(logger) as lines:
            try:
                env = factory(spec.config, env_type=env_type)
            except Exception as exc:  # the target's own error, reported in one line
                raise WorkspaceError(
                    f"building the {role} env (env_type={env_type!r}) through {spec.factory} "
                    f"failed: {type(exc).__name__}: {exc}",
                    hint="fix the target's configuration or code, then run parity again",
                ) from exc
        found[role] = {"env_type": env_type, "class": type(env).__name__, "log": lines}
    if found["legacy"]["class"] == found["candidate"]["class"]:
        raise WorkspaceError(
            f"the factory builds {found['legacy']['class']} for both env types "
            f"({spec.legacy!r} and {spec.candidate!r}); parity would compare it with itself",
            hint="a global rollback (e.g. _FORCE_LEGACY_ENV = True) is in effect; undo it first",
        )
    return found


def guarded(what: str, run: Any, *args: Any, **kwargs: Any) -> Any:
    """``run(*args, **kwargs)``; a failure other than a runbook error becomes one line.

    Raises:
        WorkspaceError: ``run`` raised; the message names ``what`` and the error.
    """
    try:
        return run(*args, **kwargs)
    except RunbookError:
        raise
    except Exception as exc:  # the legacy env or the runner failed: one line, not a traceback
        raise WorkspaceError(
            f"{what} failed: {type(exc).__name__}: {exc}",
            hint="run the target's own tests; the legacy env must run",
        ) from exc
