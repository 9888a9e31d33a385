"""Kernels started ahead: the next notebook's kernel boots while the current one runs.

A chain of runs (the drill) hides most of a kernel's start (about 0.75 s) and of
its heavy imports by starting the next run's kernel early, in a thread. Each run
still gets a fresh kernel of its own, so no state leaks from one notebook to the
next; the only thing done in it beforehand is importing modules (silently: no
name is bound, no execution count is used). At most one spare exists at a time.

A spare is used only when the run's environment and working directory are
exactly those it was started with (a rollback changes ``rollback.env`` between
runs): otherwise it is shut down and the run starts its own kernel as before.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runbook_lib.runs.runner import ipc_manager_class, shutdown_now

# What every runbook notebook imports first; the heavy ones dominate a kernel's start.
PRELOAD = (
    "numpy",
    "matplotlib.pyplot",
    "gymnasium",
    "runbook_lib.app.nb",
    "runbook_lib.runs.params",
)
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


async def _boot(spare: _Spare, manager: type, preload: tuple[str, ...]) -> None:
    km = manager(kernel_name="python3")
    spare.km = km
    await km.start_kernel(env=spare.env, cwd=spare.cwd)
    client = km.client()
    client.start_channels()
    try:
        await client.wait_for_ready(timeout=_READY_TIMEOUT_S)
        if preload:
            code = "".join(f"__import__({name!r})\n" for name in preload)
            # silent: no output, no history, no execution count; an import error is ignored.
            client.execute(
                f"try:\n    exec({code!r}, {{}})\nexcept Exception:\n    pass\n",
                silent=True,
                store_history=False,
            )
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
        self._preload = preload
        self._spare: _Spare | None = None
        self._used: list[str] = []  # socket directories of kernels handed out (shut by the run)
        self._last = False

    def last_run(self) -> None:
        """The next run is the chain's last: no kernel is started ahead for a run after it."""
        self._last = True

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
        threading.Thread(
            target=_start,
            args=(spare, manager, self._preload),
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
