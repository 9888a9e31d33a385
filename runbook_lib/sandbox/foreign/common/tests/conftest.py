"""Shared fixtures: the workspace's experiment config."""

from pathlib import Path

import pytest

from lightpath.config import load_config


@pytest.fixture
def config():
    return load_config(Path(__file__).resolve().parents[1] / "experiment.ini")
