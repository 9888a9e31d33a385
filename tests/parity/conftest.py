"""A parity run that tests in two files compare with, run once for the session."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.parity.parityutil import PoolRun, divergent_pool_run


@pytest.fixture(scope="session")
def divergent_pool(sandbox: Path, shared_dir: Path) -> PoolRun:
    """The process pool's records (2 workers) for the divergent faults and seeds.

    The one-worker run and the Ray run are both held to these records. They are
    read-only, run once for the session, across xdist workers too: the first
    to ask runs them under a file lock, the others read the saved result.
    """
    from filelock import FileLock

    home = shared_dir / "parity-divergent-pool"
    with FileLock(str(home) + ".lock"):
        return divergent_pool_run(sandbox, home)
