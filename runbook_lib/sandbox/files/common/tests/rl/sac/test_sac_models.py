"""The models are real SB3 saves that fit this release's env."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

from stable_baselines3 import SAC

from src.rl.sac.sac_agent import make_env, space_mismatches


def test_configured_model_exists(model_path: Path, config: dict[str, Any]) -> None:
    assert model_path.is_file(), (
        f"{config['model_path']} is missing: train it or restore it from a backup"
    )
    assert zipfile.is_zipfile(model_path), f"{config['model_path']} is not an SB3 zip"


def test_model_matches_env_spaces(model_path: Path, config: dict[str, Any]) -> None:
    model = SAC.load(str(model_path), device="cpu")
    problems = space_mismatches(model, make_env(config))
    assert not problems, f"{config['model_path']}: " + "; ".join(problems)


def test_stable_model_is_kept(repo_root: Path) -> None:
    stable = repo_root / "models" / "sac_v1.zip"
    assert stable.is_file(), "models/sac_v1.zip (the stable release's model) is missing"
    assert SAC.load(str(stable), device="cpu").observation_space.shape is not None
