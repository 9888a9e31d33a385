"""Env workers handed from one step of a run to the next instead of started again.

Starting a worker costs a Python start and the imports of gymnasium, numpy and
the target's factory module: about half a second each time. A parity run asks
the interpreter for its versions, builds both envs to describe them, then runs
the episodes: with a :class:`WorkerStash` those steps share one worker of an
interpreter and tree rather than starting three.

A step borrows a worker with :meth:`WorkerStash.lend`: when the step ends well
the worker waits in the stash for the next step of the same interpreter and
tree; when it fails, the worker is stopped (a worker that failed is never
handed on). A step that keeps its worker to the end (the episodes) takes it
with :meth:`WorkerStash.take` and stops it itself. :meth:`WorkerStash.close`
stops the workers still waiting, each by its own handle.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

from runbook_lib.target.worker.client import DEFAULT_TIMEOUT_S, EnvWorker


class WorkerStash:
    """Started workers by interpreter and tree, waiting for the next step that needs one."""

    def __init__(self) -> None:
        """No worker yet."""
        self._idle: dict[tuple[str, str], EnvWorker] = {}

    def take(
        self, python: str | Path, root: Path, *, timeout_s: float = DEFAULT_TIMEOUT_S
    ) -> EnvWorker:
        """A worker of ``python`` rooted at ``root``, the caller's to stop.

        The one waiting here when it is still running, else one started now.
        """
        worker = self._idle.pop((str(python), str(root)), None)
        if worker is not None and worker.alive:
            worker.timeout_s = timeout_s
            return worker
        if worker is not None:
            worker.close()
        return EnvWorker(python, root, timeout_s=timeout_s)

    @contextlib.contextmanager
    def lend(
        self, python: str | Path, root: Path, *, timeout_s: float = DEFAULT_TIMEOUT_S
    ) -> Iterator[EnvWorker]:
        """A worker as :meth:`take` gives it, back in the stash if the block ends well.

        After an exception in the block the worker is stopped instead.
        """
        worker = self.take(python, root, timeout_s=timeout_s)
        try:
            yield worker
        except BaseException:
            worker.close()
            raise
        key = (str(python), str(root))
        if key in self._idle or not worker.alive:  # one waiting worker per key is enough
            worker.close()
        else:
            self._idle[key] = worker

    def __len__(self) -> int:
        """How many workers wait here."""
        return len(self._idle)

    def close(self) -> None:
        """Stop every waiting worker."""
        while self._idle:
            _, worker = self._idle.popitem()
            worker.close()

    def __enter__(self) -> WorkerStash:
        """The stash itself."""
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        """Stop every waiting worker."""
        self.close()


@contextlib.contextmanager
def borrowed(
    stash: WorkerStash | None,
    python: str | Path,
    root: Path,
    *,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> Iterator[EnvWorker]:
    """A worker lent by ``stash``; without a stash, one for this block alone."""
    if stash is None:
        with EnvWorker(python, root, timeout_s=timeout_s) as worker:
            yield worker
    else:
        with stash.lend(python, root, timeout_s=timeout_s) as worker:
            yield worker
