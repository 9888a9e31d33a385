"""Which interpreter runs the target's code, and whether it can.

``[target] python`` names it (relative to the target's root). Without it the
target's ``.venv/bin/python`` is used when it exists, else runbook's own
interpreter, with a one-line notice naming that fallback. Runbook's process
never imports target code: every call goes through a worker of this
interpreter (:mod:`runbook_lib.target.worker.client`).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runbook_lib.base.errors import InvalidInputError, RunbookError
from runbook_lib.target.manifest import Manifest
from runbook_lib.target.worker.client import TargetCallError
from runbook_lib.target.worker.stash import WorkerStash, borrowed

DEFAULT_VENV_PYTHON = ".venv/bin/python"


@dataclass(frozen=True)
class Interpreter:
    """The target's interpreter.

    Attributes:
        path: The executable (not resolved: a venv's ``python`` is a symlink
            whose location decides the venv).
        origin: ``manifest``, ``venv`` or ``runbook``.
        notice: One line telling the user about a fallback, or None.
    """

    path: Path
    origin: str
    notice: str | None = None


def target_interpreter(manifest: Manifest) -> Interpreter:
    """The interpreter of ``manifest``'s target (see the module docstring).

    Raises:
        InvalidInputError: ``[target] python`` does not exist or is not executable.
    """
    if manifest.python is not None:
        path = manifest.root / manifest.python
        if not path.exists():
            raise InvalidInputError(
                f"[target] python {path} does not exist",
                hint="name the target's interpreter relative to its root, e.g. '.venv/bin/python'",
            )
        if path.is_dir() or not os.access(path, os.X_OK):
            raise InvalidInputError(
                f"[target] python {path} is not an executable file",
                hint="point it at the python of the target's venv",
            )
        return Interpreter(path, "manifest")
    venv = manifest.root / DEFAULT_VENV_PYTHON
    if venv.exists():
        return Interpreter(venv, "venv")
    own = Path(sys.executable)
    return Interpreter(
        own,
        "runbook",
        notice=(
            f"notice: no [target] python and no {DEFAULT_VENV_PYTHON} in {manifest.root}; "
            f"running the target's code with runbook's own interpreter {own}"
        ),
    )


def probe_interpreter(
    interpreter: Interpreter, root: Path, stash: WorkerStash | None = None
) -> dict[str, Any]:
    """Start a worker once: the versions it reports (Python, gymnasium, numpy, SB3).

    With ``stash`` the worker is borrowed from it and, once it answered, left
    there for the run's next step (a worker that failed is stopped).

    Raises:
        InvalidInputError: the interpreter cannot run the worker or has no
            gymnasium; the message names the path.
    """
    try:
        with borrowed(stash, interpreter.path, root, timeout_s=60) as worker:
            found: dict[str, Any] = worker.call("hello")
    except TargetCallError as exc:
        if exc.kind in ("ModuleNotFoundError", "ImportError"):
            raise InvalidInputError(
                f"[target] python {interpreter.path} has no gymnasium ({exc.message})",
                hint="install the target's requirements into that interpreter",
            ) from None
        raise InvalidInputError(f"[target] python {interpreter.path}: {exc.message}") from None
    except RunbookError as exc:
        raise InvalidInputError(
            f"[target] python {interpreter.path} cannot run runbook's env worker: {exc.message}"
        ) from None
    return found
