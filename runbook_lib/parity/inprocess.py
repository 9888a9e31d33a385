"""Failures in one line, and in-process imports of a target for the overhead bench only.

Parity itself runs the target's envs in env workers
(:mod:`runbook_lib.parity.remote`). :func:`target_imports` remains for
``bench/bench_parity.py``, which measures what the workers cost over stepping
the envs in this process: it forgets any module of the factory's top-level
package before and after, and writes no bytecode into the target.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from runbook_lib.base.errors import RunbookError, WorkspaceError
from runbook_lib.target.entrypoint import parse_entry_point


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
