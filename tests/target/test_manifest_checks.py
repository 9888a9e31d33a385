"""The manifest's [models], [checks] and [tests] sections, and a manifest read once per process."""

from __future__ import annotations

from pathlib import Path

import pytest

from runbook_lib.base.errors import InvalidInputError
from runbook_lib.target.manifest import load_manifest
from runbook_lib.target.specs import ChecksSpec, ModelsSpec, TradingBounds, TradingSpec
from tests.target.manifestutil import (
    SANDBOX_MANIFEST,
    TEXT,
    assert_names_key_file_and_line,
    load_error,
    variant,
    write,
)


def test_sandbox_manifest_matches_the_sandbox_templates(tmp_path: Path) -> None:
    # The release (v2) overlay carries the switches, the stable (v1) one the code to restore.
    files = SANDBOX_MANIFEST.parent.parent
    manifest = load_manifest(write(tmp_path, TEXT))
    env = manifest.env
    assert env is not None and env.config and env.force_flag and env.call_site
    config = (files / "v2" / env.config.file).read_text()
    assert f"[{env.config.section}]" in config and f"{env.config.key} = " in config
    assert f"{env.call_site.function}(" in (files / "v2" / env.call_site.file).read_text()
    factory = (files / "v2" / env.force_flag.file).read_text()
    assert f"\n{env.force_flag.constant} = False\n" in factory
    assert "class EnvType" in factory and "def create_sim_env(" in factory
    for switch in env.vars:
        assert switch.name in factory
    for code_path in manifest.git.code_paths:
        assert (files / "v1" / code_path).is_dir() or (files / "common" / code_path).is_dir()


# --- [models] env/algo and [checks] (the verification checks' inputs) -----------------


def test_sandbox_manifest_names_the_models_env_and_the_checks(tmp_path: Path) -> None:
    manifest = load_manifest(write(tmp_path, TEXT))
    assert manifest.models == ModelsSpec(
        glob="models/sac_*.zip",
        algo="SAC",
        env="src.rl.sac.sac_agent:make_env",
        env_config="configs/sac_config.json",
        deployed_key="model_path",
    )
    assert manifest.models_glob == manifest.models.glob
    checks = manifest.checks
    assert checks is not None and checks.trading is not None
    assert checks.config_argv("/py") == [
        "/py",
        "scripts/validate_config.py",
        "configs/sac_config.json",
    ]
    assert checks.trading.argv("/py") == [
        "/py",
        "scripts/evaluate_sac.py",
        "--config",
        "configs/sac_config.json",
    ]
    assert checks.trading.bounds == TradingBounds(0.05, 0.5, 0.05, 0.03)
    assert manifest.to_dict()["checks"]["trading"]["bounds"]["max_cost_rise"] == 0.03


def test_sandbox_models_entry_point_and_scripts_exist() -> None:
    files = SANDBOX_MANIFEST.parent.parent
    agent = (files / "common" / "src" / "rl" / "sac" / "sac_agent.py").read_text()
    assert "\ndef make_env(config: dict[str, Any]) -> TradingEnv:" in agent
    for script in ("validate_config.py", "evaluate_sac.py"):
        assert (files / "common" / "scripts" / script).is_file()


def test_models_and_checks_are_optional(tmp_path: Path) -> None:
    text = '[target]\nname = "t"\n[git]\nstable_ref = "v1"\n[models]\nglob = "m/*.zip"\n'
    manifest = load_manifest(write(tmp_path, text))
    assert manifest.models == ModelsSpec("m/*.zip") and manifest.checks is None
    text += '[checks.trading]\ncommand = ["{python}", "eval.py"]\n'
    manifest = load_manifest(write(tmp_path, text))
    assert manifest.checks == ChecksSpec((), TradingSpec(("{python}", "eval.py")))


CHECKS_VARIANTS = [
    # (old, new, line holding the new text, expected substrings)
    (
        'algo = "SAC"',
        'algo = "SACX"',
        'algo = "SACX"',
        ["models.algo: 'SACX' is not a stable-baselines3 algorithm", "one of: A2C, DDPG"],
    ),
    ('algo = "SAC"', "algo = 3", "algo = 3", ["models.algo: must be a string"]),
    (
        'env = "src.rl.sac.sac_agent:make_env"',
        'env = "src/rl/sac/sac_agent.py"',
        'env = "src/rl/sac/sac_agent.py"',
        ["models.env: 'src/rl/sac/sac_agent.py' is not an entry point"],
    ),
    (
        'env = "src.rl.sac.sac_agent:make_env"\n',
        "",
        'env_config = "configs/sac_config.json"',
        ["models.env_config: needs 'env'"],
    ),
    (
        'env_config = "configs/sac_config.json"\n',
        "",
        'deployed_key = "model_path"',
        ["models.deployed_key: needs 'env_config'"],
    ),
    (
        'env_config = "configs/sac_config.json"',
        'env_config = "/etc/sac.json"',
        "/etc/sac.json",
        ["models.env_config: '/etc/sac.json' must be a path relative"],
    ),
    (
        'deployed_key = "model_path"',
        'deployed_key = "model path"',
        'deployed_key = "model path"',
        ["models.deployed_key: 'model path' is not a dotted key"],
    ),
    (
        'deployed_key = "model_path"',
        'deployd_key = "model_path"',
        'deployd_key = "model_path"',
        ["unknown key 'deployd_key' in [models]", "accepted keys in [models]: glob, algo, env"],
    ),
    (
        'config_command = ["{python}"',
        'config_comand = ["{python}"',
        "config_comand",
        [
            "unknown key 'config_comand' in [checks]",
            "accepted keys in [checks]: config_command, trading",
        ],
    ),
    (
        'config_command = ["{python}"',
        'config_command = ["{py}"',
        "config_command",
        ["unknown placeholder {py}", "placeholders here: {python}"],
    ),
    (
        'config_command = ["{python}", "scripts/validate_config.py", "configs/sac_config.json"]',
        'config_command = "scripts/validate_config.py"',
        "config_command",
        ["checks.config_command: must be an array"],
    ),
    (
        "max_return_drop = 0.05",
        "max_return_drop = -0.05",
        "max_return_drop",
        ["checks.trading.max_return_drop: -0.05 must not be negative"],
    ),
    (
        "max_sharpe_drop = 0.5",
        'max_sharpe_drop = "0.5"',
        "max_sharpe_drop",
        ["checks.trading.max_sharpe_drop: must be a number"],
    ),
    (
        "max_cost_rise = 0.03",
        "max_costs_rise = 0.03",
        "max_costs_rise",
        ["unknown key 'max_costs_rise' in [checks.trading]", "max_drawdown_rise, max_cost_rise"],
    ),
    (
        'command = ["{python}", "scripts/evaluate_sac.py"',
        'command = ["{python}", "{model}"',
        '"{model}"',
        ["unknown placeholder {model}"],
    ),
]


@pytest.mark.parametrize(("old", "new", "line_text", "expected"), CHECKS_VARIANTS)
def test_bad_models_or_checks_name_key_file_and_line(
    tmp_path: Path, old: str, new: str, line_text: str, expected: list[str]
) -> None:
    assert_names_key_file_and_line(tmp_path, old, new, line_text, expected)


def test_rollback_tests_default_to_the_tests_command(tmp_path: Path) -> None:
    start = TEXT.index("rollback_command = ")
    without = TEXT[:start] + TEXT[TEXT.index("\n", start) + 1 :]
    manifest = load_manifest(write(tmp_path, without))
    assert manifest.rollback_test_command == manifest.test_command
    assert load_manifest(write(tmp_path, TEXT)).test_argv("py", Path("/j.xml"), rollback=True)[
        :5
    ] == ["py", "-m", "pytest", "-q", "tests/rl/test_rollback.py"]


def test_a_bad_rollback_tests_placeholder_is_named(tmp_path: Path) -> None:
    text = variant('"tests/rl/test_rollback.py", "--junitxml", "{junit}"', '"{tests}"')
    message = load_error(tmp_path, text)
    assert "rollback_command" in message and "unknown placeholder {tests}" in message


def test_a_manifest_read_twice_is_parsed_once_until_its_text_changes(tmp_path: Path) -> None:
    path = write(tmp_path, TEXT)
    first = load_manifest(path)
    assert load_manifest(tmp_path) is first  # same file, same text: the parse is reused
    path.write_text(variant('stable_ref = "v1.0"', 'stable_ref = "v1.1"'), encoding="utf-8")
    changed = load_manifest(path)
    assert changed is not first and changed.git.stable_ref == "v1.1"
    path.write_text(TEXT.replace("[git]", "[gti]", 1), encoding="utf-8")
    with pytest.raises(InvalidInputError, match="gti"):
        load_manifest(path)  # a bad edit is an error, never the last good parse


def test_a_cached_manifest_whose_root_became_a_symlink_is_validated_again(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    (home / "root").mkdir(parents=True)
    text = variant('root = "."', 'root = "root"')
    load_manifest(write(home, text))
    (home / "root").rmdir()
    (tmp_path / "elsewhere").mkdir()
    (home / "root").symlink_to(tmp_path / "elsewhere")
    assert "outside" in load_error(home, text)
