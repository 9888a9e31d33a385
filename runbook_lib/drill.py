"""``runbook drill``: an incident drill on a freshly materialized sandbox.

This layer sits above the core: it is the one place besides the CLI that
imports :mod:`runbook_lib.sandbox`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from runbook_lib.sandbox import WorkspaceInfo, create_workspace
from runbook_lib.smoke import SmokeReport, run_smoke

SANDBOX_FACTORY = "src.rl.envs.factory:create_sim_env"


@dataclass(frozen=True)
class DrillReport:
    """What a drill did and found."""

    workspace: WorkspaceInfo
    smoke: SmokeReport


def default_workspace(archive: Path) -> Path:
    """Where a drill materializes its sandbox inside the archive directory."""
    return archive / "drill" / "sandbox"


def run_drill(archive: Path, *, episodes: int = 3, cache_dir: Path | None = None) -> DrillReport:
    """Materialize a fresh sandbox under ``archive`` and smoke-test legacy vs unified."""
    info = create_workspace(default_workspace(archive), force=True, cache_dir=cache_dir)
    smoke = run_smoke(info.root, SANDBOX_FACTORY, episodes=episodes)
    return DrillReport(workspace=info, smoke=smoke)
