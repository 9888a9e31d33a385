"""Kernels started ahead: the next notebook's kernel boots while the current one runs.

A chain of runs (the drill) hides most of a kernel's start (about 0.75 s) and of
its heavy imports by starting the next run's kernel early, in a thread. Each run
still gets a fresh kernel of its own, so no state leaks from one notebook to the
next; the only thing done in it beforehand is importing modules (silently: no
name is bound, no execution count is used). At most one spare exists at a time.

A spare is used only when the run's environment and working directory are
exactly those it was started with (a rollback changes ``rollback.env`` between
runs): otherwise it is shut down and the run starts its own kernel as before.

What a spare imports is what the run it is for imports: the import statements
of the notebooks a chain names as likely next (:meth:`KernelSupply.expect`),
each run in a throwaway namespace, so a kernel imports nothing its notebook
would not (matplotlib is the parity notebook's, not the post-mortem's) and a
spare booting beside a busy notebook takes no more of the machine than needed.
"""

from __future__ import annotations

import ast
import asyncio
import json
import os
import shutil
import tempfile
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runbook_lib.runs.runner import ipc_manager_class, shutdown_now

# What a spare imports when the chain did not say which notebook runs next: what
# every runbook notebook imports.
PRELOAD = ("runbook_lib.app.nb", "runbook_lib.runs.params")
_READY_TIMEOUT_S = 60.0
# ``RUNBOOK_KERNELS_AHEAD=0``: no kernel is started ahead (each run starts its own), so a
# bench can measure what starting ahead saves.
AHEAD_ENV = "RUNBOOK_KERNELS_AHEAD"


@dataclass
class _Spare:
    """One kernel being started (or started) for a future run."""

    env: dict[str, str]
    cwd: str
    sockets: str
    km: Any = None
    error: BaseException | None = None
    ready: threading.Event = field(default_factory=threading.Event)


def notebook_imports(notebook: Path) -> tuple[str, ...]:
    """The import statements at the top level of ``notebook``'s code cells, in order.

    A notebook that cannot be read or parsed gives none (the spare then imports nothing).
    """
    try:
        cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
        statements: list[str] = []
        for cell in cells:
            if cell.get("cell_type") != "code":
                continue
            source = "".join(cell.get("source", ""))
            lines = [line for line in source.splitlines() if not line.lstrip().startswith("%")]
            tree = ast.parse("\n".join(lines))
            statements += [
                ast.unparse(node)
                for node in tree.body
                if isinstance(node, ast.Import | ast.ImportFrom)
            ]
    except (OSError, ValueError, KeyError, TypeError, SyntaxError):
        return ()
    return tuple(dict.fromkeys(statements))


def _preload_code(statements: Sequence[str]) -> str:
    """Each statement run in a namespace of its own; an import error is ignored."""
    return "".join(
        f"try:\n    exec({statement!r}, {{}})\nexcept Exception:\n    pass\n"
        for statement in statements
    )


async def _boot(spare: _Spare, manager: type, preload: tuple[str, ...]) -> None:
    km = manager(kernel_name="python3")
    spare.km = km
    await km.start_kernel(env=spare.env, cwd=spare.cwd)
    client = km.client()
    client.start_channels()
    try:
        await client.wait_for_ready(timeout=_READY_TIMEOUT_S)
        if preload:
            # silent: no output, no history, no execution count.
            client.execute(_preload_code(preload), silent=True, store_history=False)
            await client.get_shell_msg(timeout=_READY_TIMEOUT_S)
    finally:
        client.stop_channels()


def _start(spare: _Spare, manager: type, preload: tuple[str, ...]) -> None:
    try:
        asyncio.run(_boot(spare, manager, preload))
    except Exception as exc:  # a spare that failed is simply not used
        spare.error = exc
    finally:
        spare.ready.set()


def _shutdown(spare: _Spare) -> None:
    spare.ready.wait()
    if spare.km is not None:
        shutdown_now(spare.km)
    shutil.rmtree(spare.sockets, ignore_errors=True)


class KernelSupply:
    """Keeps at most one kernel started ahead for the next run of a chain."""

    def __init__(self, preload: tuple[str, ...] = PRELOAD) -> None:
        """``preload``: the modules a spare imports when :meth:`expect` named no notebook."""
        self._preload = tuple(f"import {name}" for name in preload)
        self._expected: tuple[str, ...] | None = None  # statements of the notebooks expected
        self._spare: _Spare | None = None
        self._used: list[str] = []  # socket directories of kernels handed out (shut by the run)
        self._last = False

    def last_run(self) -> None:
        """The next run is the chain's last: no kernel is started ahead for a run after it."""
        self._last = True

    def expect(self, notebooks: Sequence[Path]) -> None:
        """The next spare is for one of ``notebooks``: it imports what they import.

        Several notebooks when the chain cannot yet tell which runs next (the
        union of their imports); none: the next run is the chain's last.
        """
        if not notebooks:
            self.last_run()
            return
        self._expected = tuple(
            dict.fromkeys(s for notebook in notebooks for s in notebook_imports(notebook))
        )

    def prepare(self, env: Mapping[str, str], cwd: Path) -> None:
        """Start a kernel for the next run (in a thread), with this environment and cwd.

        Nothing is started when ``$RUNBOOK_KERNELS_AHEAD`` is ``0``, nor after
        :meth:`last_run` (no run would use it: its start would only slow the last run).
        """
        self.discard()
        if self._last or os.environ.get(AHEAD_ENV, "1") == "0":
            return
        sockets = tempfile.mkdtemp(prefix="runbook-kernel-")
        os.chmod(sockets, 0o700)
        spare = _Spare(dict(env), str(cwd), sockets)
        # Imported here, in the caller's thread: a first import of jupyter_client in two
        # threads at once (papermill's in the run) fails on a half-initialized module.
        import papermill  # noqa: F401

        manager = ipc_manager_class(Path(sockets))
        preload = self._preload if self._expected is None else self._expected
        self._expected = None
        threading.Thread(
            target=_start,
            args=(spare, manager, preload),
            daemon=True,
            name="runbook-kernel-ahead",
        ).start()
        self._spare = spare

    def take(self, env: Mapping[str, str], cwd: Path) -> Any:
        """The spare kernel's manager when it fits this run (else None); the run shuts it down."""
        self._remove_used()
        spare, self._spare = self._spare, None
        if spare is None:
            return None
        spare.ready.wait()
        if spare.error is None and spare.env == dict(env) and spare.cwd == str(cwd):
            self._used.append(spare.sockets)
            return spare.km
        _shutdown(spare)
        return None

    def _remove_used(self) -> None:
        for sockets in self._used:
            shutil.rmtree(sockets, ignore_errors=True)
        self._used.clear()

    def discard(self) -> None:
        """Shut the spare down, if there is one."""
        spare, self._spare = self._spare, None
        if spare is not None:
            _shutdown(spare)

    def pids(self) -> set[int]:
        """The spare kernel's pid (a run's deadline must not kill it), once it is started."""
        spare = self._spare
        if spare is None:
            return set()
        spare.ready.wait(_READY_TIMEOUT_S)
        km = spare.km
        pid = getattr(getattr(km, "provisioner", None), "pid", None)
        return {pid} if isinstance(pid, int) else set()

    def close(self) -> None:
        """End of the chain: no kernel (and no socket directory) is left behind."""
        self.discard()
        self._remove_used()
