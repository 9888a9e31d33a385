"""Parity runs that several tests read: each run once (per module, or per session)."""

from __future__ import annotations

from pathlib import Path

import pytest

from runbook_lib.base.fsutil import workspace_hash
from tests.parity.parityutil import CleanRun, PoolRun, divergent_pool_run, parity


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


@pytest.fixture(scope="module")
def clean_run(sandbox: Path, tmp_path_factory: pytest.TempPathFactory) -> CleanRun:
    """Parity of the healthy sandbox over 4 episodes (seeds 0-3), once for the module. Read-only."""
    archive = tmp_path_factory.mktemp("clean-parity")
    before = workspace_hash(sandbox)
    outcome = parity(sandbox, archive, episodes=4)
    return CleanRun(outcome, archive, before, workspace_hash(sandbox))
