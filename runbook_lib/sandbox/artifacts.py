"""Build the workspace's untracked artifacts after its release commits.

Each builder takes the workspace root and returns a mapping of artifact names to
short descriptions (paths, versions, cache hits) for the caller to report.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from runbook_lib.base.cachedir import default_cache_dir
from runbook_lib.base.progress import NO_PROGRESS, ItemProgress

# (workspace, cache, progress) -> report; progress is told as each long item is done.
Builder = Callable[[Path, Path, ItemProgress], dict[str, str]]


def _builders(profile: str) -> list[Builder]:
    if profile == "foreign":
        from runbook_lib.sandbox.venv import create_venv

        return [create_venv]
    from runbook_lib.sandbox.sac_artifacts import build_sac_artifacts

    return [build_sac_artifacts]


def build_all(
    workspace: Path,
    *,
    cache_dir: Path | None = None,
    profile: str = "default",
    progress: ItemProgress = NO_PROGRESS,
) -> dict[str, str]:
    """Run every artifact builder of ``profile`` on ``workspace`` and merge their reports.

    ``progress`` is told as each long item (a model training, the venv) is done.
    """
    cache = cache_dir if cache_dir is not None else default_cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    report: dict[str, str] = {}
    for builder in _builders(profile):
        report.update(builder(workspace, cache, progress))
    return report
