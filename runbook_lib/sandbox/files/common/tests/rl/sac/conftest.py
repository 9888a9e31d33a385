"""Fixtures of the SAC agent's tests: the release's config, env and trained agent."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from src.rl.sac.config import load_config


@pytest.fixture(scope="session")
def repo_root(pytestconfig: pytest.Config) -> Path:
    """The repository root (where pytest.ini is)."""
    return Path(pytestconfig.rootpath)


@pytest.fixture(scope="session")
def config(repo_root: Path) -> dict[str, Any]:
    """The release's validated ``configs/sac_config.json``."""
    return load_config(repo_root / "configs" / "sac_config.json")


@pytest.fixture(scope="session")
def model_path(repo_root: Path, config: dict[str, Any]) -> Path:
    """The model the config names."""
    return repo_root / Path(config["model_path"])


@pytest.fixture(scope="session")
def agent(model_path: Path) -> Any:
    """The release's trained agent, loaded once."""
    from src.rl.sac.sac_agent import SacAgent

    return SacAgent.load(model_path)
