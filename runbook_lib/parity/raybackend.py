"""Lockstep parity on Ray: the same chunks as the process pool, as Ray tasks.

Each chunk runs :func:`~runbook_lib.parity.episodes.run_chunk` unchanged, so
the records are those of the process pool for the same seeds. By default a
local Ray instance is started with ``num_cpus`` CPUs, its session files under
``temp_dir`` and authentication off (otherwise Ray writes a token under the
home directory), and shut down afterwards; with an address (``[parity]
ray_address`` in the manifest) the run joins that cluster instead.

Ray's processes listen on all network interfaces, even for a local instance.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from runbook_lib.base.errors import InvalidInputError, WorkspaceError
from runbook_lib.parity.episodes import run_chunk
from runbook_lib.parity.lockstep import EpisodeDone, EpisodeRecord, ParitySpec, ignore


def _ray() -> Any:
    try:
        import ray
    except ImportError as err:
        raise InvalidInputError(
            "the ray backend needs Ray",
            hint="pip install 'rl-runbook[ray]', or use --backend process (the default)",
        ) from err
    return ray


def start_local(ray: Any, num_cpus: int, temp_dir: Path) -> None:
    """A local Ray instance; started a second time if its raylet did not register at first.

    Ray gives its raylet 30 s to register, which a loaded machine can miss once.
    """
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    temp_dir.mkdir(parents=True, exist_ok=True)
    for attempt in (1, 2):
        try:
            ray.init(
                num_cpus=num_cpus,
                include_dashboard=False,
                log_to_driver=False,
                _temp_dir=str(temp_dir.resolve()),
            )
            return
        except Exception as err:  # Ray raises a bare Exception for the raylet's timeout
            ray.shutdown()
            if attempt == 2 or "timed out during startup" not in str(err):
                raise


@contextlib.contextmanager
def ray_session(*, address: str | None, num_cpus: int, temp_dir: Path) -> Iterator[Any]:
    """Ray, initialized for this run unless it already is; shut down only if started here.

    Args:
        address: A cluster to join (``auto``, ``host:port``, ``ray://host:port``);
            ``None`` starts a local instance.
        num_cpus: CPUs of a local instance.
        temp_dir: Session files of a local instance (made absolute).

    Raises:
        InvalidInputError: Ray is not installed.
        WorkspaceError: Ray could not start or reach the cluster.
    """
    ray = _ray()
    if ray.is_initialized():
        yield ray
        return
    try:
        if address is not None:
            ray.init(address=address, log_to_driver=False)
        else:
            start_local(ray, num_cpus, temp_dir)
    # Besides ConnectionError/RuntimeError/ValueError, Ray raises a bare Exception when
    # its raylet does not register within 30 s (an overloaded machine): the user gets
    # the same one-line error, not a traceback.
    except Exception as err:
        where = f"the Ray cluster at {address}" if address else "a local Ray instance"
        raise WorkspaceError(
            f"could not start or reach {where}: {err}",
            hint="check [parity] ray_address; on a busy machine retry, or use --backend process",
        ) from err
    try:
        yield ray
    finally:
        ray.shutdown()


def run_on_ray(
    spec: ParitySpec, parts: Sequence[Sequence[int]], done: EpisodeDone = ignore
) -> list[EpisodeRecord]:
    """Run each chunk of episode indices as one Ray task, in order (Ray must be initialized).

    ``done(record)`` is called here for each episode as its chunk's results come back.
    """
    ray = _ray()
    # One task per worker process: a reused worker would keep the target's modules
    # imported from an earlier run (another workspace, or source edited since).
    task = ray.remote(num_cpus=1, max_calls=1)(run_chunk)
    refs = [task.remote(spec, list(part)) for part in parts]
    records: list[EpisodeRecord] = []
    for ref in refs:
        chunk: list[EpisodeRecord] = ray.get(ref)
        for record in chunk:
            done(record)
        records += chunk
    return records
