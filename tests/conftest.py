"""Shared fixtures: one materialized sandbox per session, fresh copies per test."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from runbook_lib.sandbox import WorkspaceInfo, create_workspace

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sandbox's model cache, shared by every workspace of the session.

    ``outputs/.cache`` survives between local runs (git ignores it), so a warm
    run reuses trained models; a fresh clone in CI trains them once.
    """
    cache = PROJECT_ROOT / "outputs" / ".cache" / "sandbox-models"
    cache.mkdir(parents=True, exist_ok=True)
    return cache


@pytest.fixture(scope="session")
def sandbox_info(tmp_path_factory: pytest.TempPathFactory, model_cache: Path) -> WorkspaceInfo:
    """A sandbox materialized once per session. Treat it as read-only."""
    return create_workspace(tmp_path_factory.mktemp("sandbox") / "ws", cache_dir=model_cache)


@pytest.fixture(scope="session")
def sandbox(sandbox_info: WorkspaceInfo) -> Path:
    """Root of the session's read-only sandbox workspace."""
    return sandbox_info.root


@pytest.fixture
def fresh_sandbox(sandbox: Path, tmp_path: Path) -> Path:
    """A private copy of the session sandbox (git history included) that a test may change."""
    dest = tmp_path / "ws"
    shutil.copytree(sandbox, dest, symlinks=True)
    return dest
