"""Where a lockstep run's episodes go: this process, a fork pool, or Ray tasks.

This module sits above :mod:`~runbook_lib.parity.lockstep` (one chunk of
episodes) and :mod:`~runbook_lib.parity.raybackend` (the Ray session and
tasks) and dispatches between them, so that neither imports the other's caller.
"""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

from runbook_lib.parity.episodes import run_chunk
from runbook_lib.parity.lockstep import EpisodeDone, EpisodeRecord, ParitySpec, chunks, ignore
from runbook_lib.parity.raybackend import ray_session, run_on_ray
from runbook_lib.target.worker.stash import WorkerStash

BACKENDS = ("process", "ray")


@dataclass(frozen=True)
class Backend:
    """Where the episodes of a lockstep run go when there are several workers.

    Attributes:
        kind: ``process`` (a fork pool, the default) or ``ray`` (Ray tasks; see
            :mod:`runbook_lib.parity.raybackend`).
        ray_address: A Ray cluster to join; ``None`` starts a local instance.
        ray_temp_dir: The session files of a local Ray instance.
    """

    kind: str = "process"
    ray_address: str | None = None
    ray_temp_dir: Path = Path("outputs") / "ray"


PROCESS_POOL = Backend()


def run_lockstep(
    spec: ParitySpec,
    *,
    workers: int = 1,
    backend: Backend = PROCESS_POOL,
    done: EpisodeDone = ignore,
    stash: WorkerStash | None = None,
) -> list[EpisodeRecord]:
    """Run every episode; with ``workers > 1`` over a process pool or Ray, same results.

    ``done(record)`` is called in this process for each episode: as it ends
    when they run here, else as its chunk's results come back. Episodes run
    here use a worker waiting in ``stash`` (the pool's and Ray's processes
    start their own).
    """
    local = backend.kind != "ray" and (workers <= 1 or len(spec.seeds) <= 1)
    if stash is not None and not local:
        stash.close()  # the pool's and Ray's processes start workers of their own
    if backend.kind == "ray":
        with ray_session(
            address=backend.ray_address, num_cpus=workers, temp_dir=backend.ray_temp_dir
        ):
            return run_on_ray(spec, chunks(len(spec.seeds), workers), done)
    if local:
        cwd = os.getcwd()
        try:
            return run_chunk(spec, range(len(spec.seeds)), done, stash)
        finally:
            os.chdir(cwd)
    parts = chunks(len(spec.seeds), workers)
    with ProcessPoolExecutor(max_workers=len(parts), mp_context=get_context("fork")) as pool:
        futures = [pool.submit(run_chunk, spec, part) for part in parts]
        for future in as_completed(futures):
            for record in future.result():
                done(record)
        return [record for future in futures for record in future.result()]
