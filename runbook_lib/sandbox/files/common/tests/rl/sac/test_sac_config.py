"""The config validates against this release's schema; bad configs are named precisely."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from src.rl.sac.config import ConfigError, load_config, parse_json, validate

RELEASE_CONFIG = Path("configs") / "sac_config.json"


@pytest.fixture
def raw_config(repo_root: Path) -> dict[str, Any]:
    """The release's config as parsed JSON: the valid sample the validator's tests break."""
    try:
        data: dict[str, Any] = load_config(repo_root / RELEASE_CONFIG)
    except ConfigError:
        pytest.skip("the release config is invalid: test_release_config_is_valid says why")
    return data


def test_release_config_is_valid(repo_root: Path) -> None:
    text = (repo_root / RELEASE_CONFIG).read_text(encoding="utf-8")
    try:
        problems = validate(parse_json(text, str(RELEASE_CONFIG)))
    except ConfigError as err:
        problems = err.problems
    assert not problems, f"{RELEASE_CONFIG} is invalid: " + "; ".join(problems)


def test_validate_script_accepts_release_config(repo_root: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "scripts/validate_config.py", str(RELEASE_CONFIG)],
        cwd=repo_root,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().endswith("OK")


def test_missing_key_is_named(raw_config: dict[str, Any]) -> None:
    del raw_config["sac"]["batch_size"]
    assert validate(raw_config) == ["missing key 'sac.batch_size'"]


@pytest.mark.parametrize(
    ("section", "key", "value", "expected"),
    [
        ("sac", "learning_rate", 5.0, "key 'sac.learning_rate' = 5.0 is out of range"),
        ("env", "transaction_cost", -0.1, "key 'env.transaction_cost' = -0.1 is out of range"),
        ("sac", "gamma", 1.0, "key 'sac.gamma' = 1.0 is out of range"),
        ("sac", "batch_size", "64", "key 'sac.batch_size' must be of type integer"),
        ("sac", "ent_coef", "sometimes", "key 'sac.ent_coef' = 'sometimes' matches none of"),
    ],
)
def test_bad_value_is_named(
    raw_config: dict[str, Any], section: str, key: str, value: Any, expected: str
) -> None:
    raw_config[section][key] = value
    problems = validate(raw_config)
    assert len(problems) == 1 and problems[0].startswith(expected), problems


def test_unknown_key_is_named(raw_config: dict[str, Any]) -> None:
    raw_config["sac"]["learnig_rate"] = 0.001
    assert validate(raw_config)[0].startswith("unknown key 'sac.learnig_rate'")


def test_regime_counts_must_agree(raw_config: dict[str, Any]) -> None:
    raw_config["env"]["market"]["volatility"].append(0.01)
    assert "key 'env.market.volatility'" in validate(raw_config)[0]


def test_bad_json_names_line_and_file(tmp_path: Path, repo_root: Path) -> None:
    broken = tmp_path / "sac_config.json"
    broken.write_text(
        (repo_root / RELEASE_CONFIG).read_text(encoding="utf-8")[:40], encoding="utf-8"
    )
    with pytest.raises(ConfigError, match=r"sac_config\.json: invalid JSON at line \d+"):
        load_config(broken)


def test_nan_is_refused(tmp_path: Path, raw_config: dict[str, Any]) -> None:
    path = tmp_path / "sac_config.json"
    path.write_text(json.dumps(raw_config).replace('"tau": 0.02', '"tau": NaN'), encoding="utf-8")
    with pytest.raises(ConfigError, match="NaN"):
        load_config(path)


def test_validate_script_names_the_bad_key(
    tmp_path: Path, repo_root: Path, raw_config: dict[str, Any]
) -> None:
    raw_config["env"]["window"] = 1
    path = tmp_path / "sac_config.json"
    path.write_text(json.dumps(raw_config), encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "scripts/validate_config.py", str(path)],
        cwd=repo_root,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1
    assert "key 'env.window' = 1 is out of range" in proc.stderr
