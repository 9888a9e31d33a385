from __future__ import annotations

from pathlib import Path

import pytest

from runbook_lib.base.errors import InvalidInputError
from runbook_lib.target.manifest import MANIFEST_NAME, Manifest, find_manifest, load_manifest
from runbook_lib.target.tomlcheck import looks_like_secret
from tests.target.manifestutil import (
    CODE_PATHS,
    TEXT,
    assert_names_key_file_and_line,
    line_of,
    load_error,
    variant,
    write,
)


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
    assert service.relocatable and service._replace(port=8123).argv("/py")[-2:] == [
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
    assert_names_key_file_and_line(tmp_path, old, new, line_text, expected)


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
