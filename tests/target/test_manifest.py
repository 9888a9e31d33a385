from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from runbook_lib.base.errors import InvalidInputError
from runbook_lib.target.manifest import MANIFEST_NAME, Manifest, find_manifest, load_manifest
from runbook_lib.target.specs import ChecksSpec, ModelsSpec, TradingBounds, TradingSpec
from runbook_lib.target.tomlcheck import looks_like_secret

CODE_PATHS = (
    'code_paths = ["src/rl/sac/", "docs/agents/", "tests/rl/sac/", "packages/trade-agent-sac/"]'
)
SANDBOX_MANIFEST = (
    Path(__file__).resolve().parents[2]
    / "runbook_lib"
    / "sandbox"
    / "files"
    / "common"
    / MANIFEST_NAME
)
TEXT = SANDBOX_MANIFEST.read_text(encoding="utf-8")


def line_of(text: str, needle: str) -> int:
    # A needle may span lines; it is found at the line where it starts.
    starts = [i for i in range(len(text)) if text.startswith(needle, i)]
    matches = [text.count("\n", 0, i) + 1 for i in starts]
    assert len(matches) == 1, f"{needle!r} occurs {len(matches)} times"
    return matches[0]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / MANIFEST_NAME
    path.write_text(text, encoding="utf-8")
    return path


def variant(old: str, new: str) -> str:
    assert TEXT.count(old) == 1, f"{old!r} is not unique in the sandbox manifest"
    return TEXT.replace(old, new)


def load_error(tmp_path: Path, text: str) -> str:
    path = write(tmp_path, text)
    with pytest.raises(InvalidInputError) as info:
        load_manifest(path)
    return str(info.value)


def test_sandbox_manifest_states_the_sandbox_facts(tmp_path: Path) -> None:
    manifest = load_manifest(write(tmp_path, TEXT))
    assert manifest.name == "sandbox"
    assert manifest.root == tmp_path.resolve()
    assert (manifest.git.stable_ref, manifest.git.release_ref) == ("v1.0", "v2.0")
    assert manifest.git.code_paths == (
        "src/rl/sac/",
        "docs/agents/",
        "tests/rl/sac/",
        "packages/trade-agent-sac/",
    )
    env = manifest.env
    assert env is not None
    assert env.factory == "src.rl.envs.factory:create_sim_env"
    assert env.env_type == "src.rl.envs.factory:EnvType"
    assert env.logger == "src.rl.envs.factory"
    assert [(v.name, v.legacy, v.unified) for v in env.vars] == [
        ("USE_UNIFIED_ENV", "0", "1"),
        ("RL_ENV_TYPE", "legacy", "unified"),
    ]
    assert env.config is not None and (env.config.file, env.config.section, env.config.key) == (
        "config.ini",
        "rl",
        "use_unified_env",
    )
    assert env.force_flag is not None
    assert (env.force_flag.file, env.force_flag.constant) == (
        "src/rl/envs/factory.py",
        "_FORCE_LEGACY_ENV",
    )
    assert env.call_site is not None
    assert (env.call_site.file, env.call_site.function) == ("scripts/run_rsa.py", "create_sim_env")
    assert manifest.backups is not None
    assert (manifest.backups.dir, manifest.backups.checksum_file) == ("backups", "SHA256SUMS")
    assert manifest.models_glob == "models/sac_*.zip"
    package = manifest.package
    assert package is not None
    assert (package.name, package.stable_version, package.release_version) == (
        "trade-agent-sac",
        "1.0.0",
        "1.1.0",
    )
    assert (package.wheelhouse, package.site_dir) == ("wheelhouse", ".site")
    service = manifest.service
    assert service is not None and service.adapter == "process" and service.name == "trade-agent"
    assert service.argv("/py") == [
        "/py",
        "-m",
        "trade_agent_sac.server",
        "--config",
        "configs/sac_config.json",
        "--state-file",
        ".run/trade-agent.json",
        "--port",
        "0",
    ]
    assert service.relocatable and replace(service, port=8123).argv("/py")[-2:] == [
        "--port",
        "8123",
    ]
    assert dict(service.env) == {"PYTHONPATH": ".site:."}
    assert (service.pidfile, service.state_file, service.health_path) == (
        ".run/trade-agent.pid",
        ".run/trade-agent.json",
        "/health",
    )
    assert manifest.test_argv("/py", Path("/j.xml")) == [
        "/py",
        "-m",
        "pytest",
        "-q",
        "tests",
        "--junitxml",
        "/j.xml",
    ]
    assert manifest.margin("total_reward") == 0.05 and manifest.margin("anything") == 0.05
    assert manifest.secrets == ("TRADE_API_TOKEN",)
    assert manifest.missing_secrets({}) == ["TRADE_API_TOKEN"]
    assert manifest.missing_secrets({"TRADE_API_TOKEN": "x"}) == []
    assert manifest.resolve("models") == tmp_path.resolve() / "models"
    assert manifest.to_dict()["service"]["command"][0] == "{python}"


def test_load_manifest_accepts_the_directory(tmp_path: Path) -> None:
    write(tmp_path, TEXT)
    assert isinstance(load_manifest(tmp_path), Manifest)


def test_minimal_manifest_needs_only_target_and_git(tmp_path: Path) -> None:
    manifest = load_manifest(write(tmp_path, '[target]\nname = "t"\n[git]\nstable_ref = "v1"\n'))
    assert manifest.env is None and manifest.service is None and manifest.secrets == ()
    assert manifest.margin("x") == 0.05
    sha = "3f2a" * 10
    manifest = load_manifest(
        write(tmp_path, f'[target]\nname = "t"\n[git]\nstable_ref = "{sha}"\n')
    )
    assert manifest.git.stable_ref == sha


def test_find_manifest_walks_upward(tmp_path: Path) -> None:
    write(tmp_path, TEXT)
    nested = tmp_path / "a" / "b"
    nested.mkdir(parents=True)
    assert find_manifest(nested) == (tmp_path / MANIFEST_NAME).resolve()


def test_find_manifest_without_one_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match=r"no runbook.toml in .* or any directory above"):
        find_manifest(tmp_path)


def test_missing_manifest_file(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="no manifest at"):
        load_manifest(tmp_path / "nope.toml")


BAD_VARIANTS = [
    # (old text, new text, line holding this text in the variant, expected substrings)
    (
        'adapter = "process"',
        'adaptor = "process"',
        'adaptor = "process"',
        [
            "unknown key 'adaptor' in [service]",
            "accepted keys in [service]: name, adapter, command",
        ],
    ),
    (
        "[service]\n",
        "[servce]\n",
        "[servce]",
        [
            "unknown key 'servce' in the top level",
            "accepted keys in the top level: secrets, target",
        ],
    ),
    (
        'name = "RL_ENV_TYPE"',
        'nmae = "RL_ENV_TYPE"',
        'nmae = "RL_ENV_TYPE"',
        ["unknown key 'nmae' in [env.vars[1]]", "accepted keys in [env.vars[1]]: name, legacy"],
    ),
    (
        'stable_ref = "v1.0"\n',
        "",
        "[git]",
        ["missing required key 'stable_ref' in [git]", "accepted keys in [git]: stable_ref"],
    ),
    (
        'pidfile = ".run/trade-agent.pid"\n',
        "",
        "[service]",
        ["missing required key 'pidfile' in [service]"],
    ),
    (
        'stable_ref = "v1.0"',
        "stable_ref = 1.0",
        "stable_ref = 1.0",
        ["git.stable_ref: must be a string, got float 1.0"],
    ),
    (CODE_PATHS, 'code_paths = "src/rl/sac/"', "code_paths", ["git.code_paths: must be an array"]),
    (
        "default_margin = 0.05",
        'default_margin = "5%"',
        "default_margin",
        ["parity.default_margin: must be a number"],
    ),
    (
        "default_margin = 0.05",
        "default_margin = true",
        "default_margin",
        ["parity.default_margin: must be a number"],
    ),
    ("default_margin = 0.05", "default_margin = 5", "default_margin", ["must lie between 0 and 1"]),
    (
        "total_reward = 0.05",
        "total_reward = 1.5",
        "total_reward",
        ["parity.margins.total_reward: 1.5 must lie between 0 and 1"],
    ),
    (
        'PYTHONPATH = ".site:."',
        "PYTHONPATH = 3",
        "PYTHONPATH",
        ["service.env.PYTHONPATH: must be a string"],
    ),
    (
        'adapter = "process"',
        'adapter = "docker"',
        "adapter",
        ["'docker' is not a service adapter", "use 'process'"],
    ),
    (
        'adapter = "process"',
        'adapter = "systemd"',
        'command = [\n    "{python}"',
        ["service.command: applies only to adapter 'process'"],
    ),
    (
        '"{python}", "-m", "trade_agent_sac.server",',
        '"{pyhton}", "-m", "trade_agent_sac.server",',
        'command = [\n    "{pyhton}"',
        ["unknown placeholder {pyhton}", "placeholders here: {python}, {port}"],
    ),
    (
        "port = 0",
        "port = 70000",
        "port = 70000",
        ["service.port: 70000 is not a port (0..65535"],
    ),
    (
        '"tests", "--junitxml", "{junit}"',
        '"tests", "--junitxml", "{out}"',
        '"tests", "--junitxml"',
        ["unknown placeholder {out}", "{python}, {junit}"],
    ),
    (
        CODE_PATHS,
        'code_paths = ["../outside"]',
        "code_paths",
        ["'../outside' must be a path relative to the target's root"],
    ),
    (
        'glob = "models/sac_*.zip"',
        'glob = "/abs/models/*.zip"',
        "glob =",
        ["models.glob: '/abs/models/*.zip' must be a path relative"],
    ),
    (
        'factory = "src.rl.envs.factory:create_sim_env"',
        'factory = "src/rl/envs/factory.py"',
        "factory =",
        ["env.factory: 'src/rl/envs/factory.py' is not an entry point"],
    ),
    (
        'constant = "_FORCE_LEGACY_ENV"',
        'constant = "FORCE-LEGACY"',
        "constant =",
        ["is not a Python identifier"],
    ),
    ('root = "."', 'root = "missing-dir"', "root =", ["is not a directory"]),
    ('health_path = "/health"', 'health_path = "health"', "health_path", ["must start with '/'"]),
    ('name = "sandbox"', 'name = ""', 'name = ""', ["target.name: must not be empty"]),
    (
        'name = "USE_UNIFIED_ENV"',
        'name = "USE UNIFIED"',
        "USE UNIFIED",
        ["env.vars[0].name: 'USE UNIFIED' is not an environment variable name"],
    ),
    ('keyword = "env_type"', 'keyword = "env-type"', "env-type", ["is not a keyword"]),
    (
        'checksum_file = "SHA256SUMS"',
        'checksum_file = "sums/SHA256SUMS"',
        "checksum_file",
        ["must be a file name, not a path"],
    ),
]


@pytest.mark.parametrize(("old", "new", "line_text", "expected"), BAD_VARIANTS)
def test_bad_manifest_names_key_file_and_line(
    tmp_path: Path, old: str, new: str, line_text: str, expected: list[str]
) -> None:
    text = variant(old, new)
    message = load_error(tmp_path, text)
    assert f"{tmp_path / MANIFEST_NAME}:{line_of(text, line_text)}:" in message
    for part in expected:
        assert part in message


def test_missing_required_table(tmp_path: Path) -> None:
    text = TEXT.replace('[target]\nname = "sandbox"\nroot = "."\n', "")
    message = load_error(tmp_path, text)
    assert "missing required key 'target' in the top level" in message


def test_invalid_toml_reports_position(tmp_path: Path) -> None:
    message = load_error(tmp_path, variant('release_ref = "v2.0"', 'release_ref = "v2.0'))
    assert "not valid TOML" in message and f"line {line_of(TEXT, 'release_ref')}" in message


SECRET_VARIANTS = [
    # (old, new, expected in the message, a secret the message must not repeat)
    (
        'secrets = ["TRADE_API_TOKEN"]',
        'secrets = ["trade api token"]',
        "is not the name of an environment variable",
        None,
    ),
    (
        'secrets = ["TRADE_API_TOKEN"]',
        'secrets = ["ghp_abcdefghijklmnopqrstuvwxyz0123456789"]',
        "looks like a literal secret",
        "ghp_abc",
    ),
    (
        'secrets = ["TRADE_API_TOKEN"]',
        'secrets = ["Zx9Qw8Er7Ty6Ui5Op4As3Df2"]',
        "looks like a literal secret",
        "Zx9Qw8",
    ),
    (
        'PYTHONPATH = ".site:."',
        'PYTHONPATH = ".site:."\nTRADE_API_TOKEN = "hunter2"',
        "TRADE_API_TOKEN looks like a secret and may not be set here",
        "hunter2",
    ),
    (
        'health_path = "/health"',
        'health_path = "/health"\nhealth_url = "http://127.0.0.1:8080/health?key=Zx9Qw8Er7Ty6Ui5Op4As3Df2"',
        "service.health_url looks like a literal secret",
        "Zx9Qw8",
    ),
    (
        'health_path = "/health"',
        'health_path = "/health"\nhealth_url = "http://admin:pw1234@127.0.0.1:8080/health"',
        "must not carry a password",
        "pw1234",
    ),
]


@pytest.mark.parametrize(("old", "new", "expected", "secret"), SECRET_VARIANTS)
def test_literal_secrets_are_refused_without_echoing_them(
    tmp_path: Path, old: str, new: str, expected: str, secret: str | None
) -> None:
    message = load_error(tmp_path, variant(old, new))
    assert expected in message
    if secret is not None:
        assert secret not in message


def test_secret_refusal_names_the_line(tmp_path: Path) -> None:
    text = variant('secrets = ["TRADE_API_TOKEN"]', 'secrets = ["sk-live-0123456789abcdef"]')
    message = load_error(tmp_path, text)
    assert f":{line_of(text, 'secrets =')}:" in message and "looks like a literal secret" in message
    assert "0123456789abcdef" not in message


def test_webhook_and_systemd_variants_load(tmp_path: Path) -> None:
    service = TEXT[TEXT.index("[service]\n") : TEXT.index("[tests]")]
    systemd = (
        '[service]\nname = "sac-agent-service"\nadapter = "systemd"\nunit = "sac-agent.service"\n'
    )
    systemd += 'health_url = "http://127.0.0.1:8080/health"\n\n'
    text = TEXT.replace(service, systemd) + '\n[notify]\nwebhook_url = "http://127.0.0.1:9/hook"\n'
    manifest = load_manifest(write(tmp_path, text))
    assert manifest.service is not None and manifest.service.unit == "sac-agent.service"
    assert manifest.service.command == () and manifest.webhook_url == "http://127.0.0.1:9/hook"
    assert not manifest.service.relocatable  # a unit's port is fixed by its unit file


@pytest.mark.parametrize(
    ("value", "secret"),
    [
        ("src.rl.envs.factory:create_sim_env", False),
        ("models/sac_*.zip", False),
        ("3f2a" * 10, False),
        ("USE_UNIFIED_ENV", False),
        ("ghp_0123456789", True),
        ("xoxb-1-2", True),
        ("-----BEGIN PRIVATE KEY-----", True),
        ("https://hooks.example/services/T0/B0/Zx9Qw8Er7Ty6Ui5Op4As3Df2", True),
    ],
)
def test_looks_like_secret(value: str, secret: bool) -> None:
    assert looks_like_secret(value) is secret


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
    text = variant(old, new)
    message = load_error(tmp_path, text)
    assert f"{tmp_path / MANIFEST_NAME}:{line_of(text, line_text)}:" in message, message
    for part in expected:
        assert part in message, message


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
