"""The sandbox's create_sim_env: switch precedence, invalid values, the log line, call site."""

from __future__ import annotations

import importlib
import itertools
import logging
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from runbook_lib.rollback.actions import pyedit
from runbook_lib.target import inifile
from tests.wsutil import workspace_on_path

pytestmark = pytest.mark.filterwarnings("ignore:GeneralSimEnv is deprecated:DeprecationWarning")

LEGACY, UNIFIED = "legacy", "unified"
# Highest precedence first, as the factory documents them.
SWITCHES = ("_FORCE_LEGACY_ENV", "env_type", "RL_ENV_TYPE", "USE_UNIFIED_ENV", "use_unified_env")
SPELLING = {
    "_FORCE_LEGACY_ENV": {LEGACY: "True"},
    "env_type": {LEGACY: "legacy", UNIFIED: "unified"},
    "RL_ENV_TYPE": {LEGACY: "legacy", UNIFIED: "unified"},
    "USE_UNIFIED_ENV": {LEGACY: "0", UNIFIED: "1"},
    "use_unified_env": {LEGACY: "false", UNIFIED: "true"},
}
DECIDED_BY = {
    "_FORCE_LEGACY_ENV": "_FORCE_LEGACY_ENV=True",
    "env_type": "env_type={value}",
    "RL_ENV_TYPE": "RL_ENV_TYPE={value}",
    "USE_UNIFIED_ENV": "USE_UNIFIED_ENV={value}",
    "use_unified_env": "rl.use_unified_env={value}",
}
LOG_LINE = re.compile(
    r"^create_sim_env: using (?P<cls>GeneralSimEnv|UnifiedSimEnv) \((?P<type>legacy|unified)\) "
    r"decided by (?P<switch>\S+)$"
)


def _opposite(kind: str) -> str:
    return UNIFIED if kind == LEGACY else LEGACY


@pytest.fixture(scope="module")
def factory(sandbox: Path) -> Iterator[ModuleType]:
    """The session sandbox's ``src.rl.envs.factory``, imported in-process."""
    with workspace_on_path(sandbox):
        previous = sys.dont_write_bytecode
        sys.dont_write_bytecode = True  # the sandbox is shared: leave no __pycache__ in it
        try:
            yield importlib.import_module("src.rl.envs.factory")
        finally:
            sys.dont_write_bytecode = previous


@pytest.fixture
def config_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private config file with no ``[rl]`` switch; every rollback variable cleared."""
    monkeypatch.delenv("RL_ENV_TYPE", raising=False)
    monkeypatch.delenv("USE_UNIFIED_ENV", raising=False)
    path = tmp_path / "config.ini"
    path.write_text("[simulation]\nnum_requests = 20\n", encoding="utf-8")
    monkeypatch.setenv("RL_CONFIG_FILE", str(path))
    return path


class Switches:
    """Sets the factory's switches for one test (undone by monkeypatch)."""

    def __init__(self, factory: ModuleType, config_path: Path, monkeypatch: pytest.MonkeyPatch):
        self.factory = factory
        self.config_path = config_path
        self.monkeypatch = monkeypatch
        self.env_type: str | None = None

    def set(self, switch: str, value: str) -> None:
        if switch == "_FORCE_LEGACY_ENV":
            self.monkeypatch.setattr(self.factory, "_FORCE_LEGACY_ENV", value == "True")
        elif switch == "env_type":
            self.env_type = value
        elif switch == "use_unified_env":
            text = self.config_path.read_text(encoding="utf-8")
            self.config_path.write_text(inifile.set_value(text, "rl", switch, value))
        else:
            self.monkeypatch.setenv(switch, value)

    def resolve(self) -> tuple[str, str]:
        chosen, decided_by = self.factory._resolve_env_type(self.env_type)
        return chosen.value, decided_by


@pytest.fixture
def switches(factory: ModuleType, config_path: Path, monkeypatch: pytest.MonkeyPatch) -> Switches:
    return Switches(factory, config_path, monkeypatch)


def test_default_is_unified(switches: Switches) -> None:
    assert switches.resolve() == (UNIFIED, "default")


PAIRS = [
    (higher, lower, kind)
    for higher, lower in itertools.combinations(SWITCHES, 2)
    for kind in (LEGACY, UNIFIED)
    if kind in SPELLING[higher]
]


@pytest.mark.parametrize(("higher", "lower", "kind"), PAIRS)
def test_higher_switch_wins_over_every_lower_one(
    switches: Switches, higher: str, lower: str, kind: str
) -> None:
    lower_kind = _opposite(kind)
    switches.set(lower, SPELLING[lower][lower_kind])
    # The lower switch alone decides ...
    if lower_kind in SPELLING[lower]:
        assert switches.resolve()[0] == lower_kind
    # ... until the higher one says otherwise.
    value = SPELLING[higher][kind]
    switches.set(higher, value)
    assert switches.resolve() == (kind, DECIDED_BY[higher].format(value=value))


@pytest.mark.parametrize(("switch", "kind"), [(s, kind) for s in SWITCHES for kind in SPELLING[s]])
def test_each_switch_alone_decides(switches: Switches, switch: str, kind: str) -> None:
    value = SPELLING[switch][kind]
    switches.set(switch, value)
    assert switches.resolve() == (kind, DECIDED_BY[switch].format(value=value))


@pytest.mark.parametrize(
    ("variable", "value", "kind"),
    [
        ("USE_UNIFIED_ENV", "FALSE", LEGACY),
        ("USE_UNIFIED_ENV", "True", UNIFIED),
        ("USE_UNIFIED_ENV", " 0 ", LEGACY),
        ("RL_ENV_TYPE", "LEGACY", LEGACY),
        ("RL_ENV_TYPE", "Unified", UNIFIED),
    ],
)
def test_variable_values_ignore_case_and_spaces(
    switches: Switches, variable: str, value: str, kind: str
) -> None:
    switches.set(variable, value)
    assert switches.resolve()[0] == kind


def test_env_type_accepts_the_enum(factory: ModuleType, config_path: Path) -> None:
    chosen, decided_by = factory._resolve_env_type(factory.EnvType.LEGACY)
    assert (chosen, decided_by) == (factory.EnvType.LEGACY, "env_type=legacy")
    assert isinstance(factory.EnvType.LEGACY, str) and factory.EnvType.LEGACY == "legacy"


@pytest.mark.parametrize(
    ("switch", "value", "message"),
    [
        ("RL_ENV_TYPE", "legcy", r"RL_ENV_TYPE='legcy'.*accepted values: legacy, unified"),
        ("USE_UNIFIED_ENV", "yes", r"USE_UNIFIED_ENV='yes'.*accepted values: 0, 1, true, false"),
        ("USE_UNIFIED_ENV", "2", r"USE_UNIFIED_ENV='2'.*accepted values"),
        ("use_unified_env", "on", r"use_unified_env in .*config.ini \[rl\]='on'.*accepted values"),
        ("env_type", "classic", r"env_type='classic'.*accepted values: legacy, unified"),
    ],
)
def test_invalid_switch_value_is_a_clear_error(
    factory: ModuleType, switches: Switches, switch: str, value: str, message: str
) -> None:
    switches.set(switch, value)
    with pytest.raises(factory.EnvSelectionError, match=message) as caught:
        switches.resolve()
    assert isinstance(caught.value, ValueError)
    # A mistyped rollback switch is never silently outvoted by a higher one.
    switches.set("_FORCE_LEGACY_ENV", "True")
    with pytest.raises(factory.EnvSelectionError):
        switches.resolve()


def test_each_creation_logs_one_parseable_line(
    factory: ModuleType, switches: Switches, caplog: pytest.LogCaptureFixture
) -> None:
    switches.set("USE_UNIFIED_ENV", "0")
    with caplog.at_level(logging.INFO, logger="src.rl.envs.factory"):
        legacy = factory.create_sim_env()
        unified = factory.create_sim_env(None, env_type="unified")
        forced = factory.create_sim_env({"num_requests": 5}, env_type=factory.EnvType.LEGACY)
    records = [r for r in caplog.records if r.name == "src.rl.envs.factory"]
    assert [r.levelno for r in records] == [logging.INFO] * 3
    parsed = [LOG_LINE.match(r.getMessage()) for r in records]
    assert all(parsed)
    assert [(m["cls"], m["type"], m["switch"]) for m in parsed if m] == [
        ("GeneralSimEnv", LEGACY, "USE_UNIFIED_ENV=0"),
        ("UnifiedSimEnv", UNIFIED, "env_type=unified"),
        ("GeneralSimEnv", LEGACY, "env_type=legacy"),
    ]
    assert [type(e).__name__ for e in (legacy, unified, forced)] == [
        "GeneralSimEnv",
        "UnifiedSimEnv",
        "GeneralSimEnv",
    ]


def test_config_mapping_overrides_the_file(factory: ModuleType, config_path: Path) -> None:
    env = factory.create_sim_env({"num_requests": 7, "erlang": "75"})
    assert (env.settings.num_requests, env.settings.erlang) == (7, 75.0)
    assert factory.create_sim_env().settings.num_requests == 20  # from the file


def test_unknown_setting_is_a_clear_error(factory: ModuleType, config_path: Path) -> None:
    with pytest.raises(ValueError, match=r"unknown simulation setting 'kpaths'.*k_paths"):
        factory.create_sim_env({"kpaths": 3})
    config_path.write_text("[simulation]\nnum_slots = lots\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"num_slots='lots' in .*config.ini \[simulation\]"):
        factory.create_sim_env()


def test_missing_config_file_names_the_variable(
    factory: ModuleType, config_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RL_CONFIG_FILE", str(config_path.with_name("absent.ini")))
    with pytest.raises(ValueError, match=r"absent.ini does not exist.*RL_CONFIG_FILE"):
        factory.create_sim_env()


def test_workspace_config_selects_unified(
    factory: ModuleType, sandbox: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RL_CONFIG_FILE", raising=False)
    monkeypatch.delenv("RL_ENV_TYPE", raising=False)
    monkeypatch.delenv("USE_UNIFIED_ENV", raising=False)
    assert factory.config_file() == sandbox / "config.ini"
    assert factory._resolve_env_type() == (factory.EnvType.UNIFIED, "rl.use_unified_env=true")


# --- the rollback tool's edit points ---------------------------------------------------------


def test_force_flag_is_a_plain_constant_in_the_source(sandbox: Path) -> None:
    source = (sandbox / "src/rl/envs/factory.py").read_text(encoding="utf-8")
    assert len(re.findall(r"(?m)^_FORCE_LEGACY_ENV = False$", source)) == 1
    assert pyedit.read_constant(source, "_FORCE_LEGACY_ENV", filename="factory.py") is False


def test_designated_call_site_is_one_call_with_envtype_imported(sandbox: Path) -> None:
    source = (sandbox / "scripts/run_rsa.py").read_text(encoding="utf-8")
    calls = pyedit.find_calls(source, "create_sim_env", filename="run_rsa.py")
    assert len(calls) == 1
    assert "    env = create_sim_env(config)\n" in source
    assert pyedit.imports_name(source, "EnvType", filename="run_rsa.py")


def run_script(root: Path, *args: str, env: dict[str, str] | None = None) -> str:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in ("RL_ENV_TYPE", "USE_UNIFIED_ENV", "RL_CONFIG_FILE")
    }
    proc = subprocess.run(
        [sys.executable, "scripts/run_rsa.py", *args],
        cwd=root,
        capture_output=True,
        text=True,
        env={**clean, "PYTHONDONTWRITEBYTECODE": "1", **(env or {})},
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout + proc.stderr


def _blocking(output: str) -> str:
    summary = [line for line in output.splitlines() if line.startswith("env=")]
    found = re.search(r"blocking_probability=(\S+)", summary[0]) if summary else None
    assert found, output
    return found.group(1)


def test_each_rollback_edit_makes_the_script_use_legacy(fresh_sandbox: Path) -> None:
    args = ("--episodes", "1", "--requests", "200")
    before = run_script(fresh_sandbox, *args)
    assert "using UnifiedSimEnv (unified) decided by rl.use_unified_env=true" in before
    assert "env=unified" in before

    # Code level: the designated call site pins the legacy env.
    script = fresh_sandbox / "scripts/run_rsa.py"
    source = script.read_text(encoding="utf-8")
    edit = pyedit.keyword_edit(
        source, "create_sim_env", "env_type", "EnvType.LEGACY", filename="run_rsa.py"
    )
    script.write_text(pyedit.apply_edit(source, edit), encoding="utf-8")
    after = run_script(fresh_sandbox, *args)
    assert "using GeneralSimEnv (legacy) decided by env_type=legacy" in after
    # The policy reads only observations: the legacy env serves the same episode.
    assert _blocking(after) == _blocking(before)
    script.write_text(source, encoding="utf-8")

    # Config file, then the global force flag (which outranks everything).
    config = fresh_sandbox / "config.ini"
    text = config.read_text(encoding="utf-8")
    config.write_text(inifile.set_value(text, "rl", "use_unified_env", "false"), encoding="utf-8")
    assert "decided by rl.use_unified_env=false" in run_script(fresh_sandbox, *args)
    factory_file = fresh_sandbox / "src/rl/envs/factory.py"
    factory_source = factory_file.read_text(encoding="utf-8")
    flag = pyedit.constant_edit(factory_source, "_FORCE_LEGACY_ENV", "True", filename="factory.py")
    factory_file.write_text(pyedit.apply_edit(factory_source, flag), encoding="utf-8")
    forced = run_script(fresh_sandbox, *args, env={"RL_ENV_TYPE": "unified"})
    assert "using GeneralSimEnv (legacy) decided by _FORCE_LEGACY_ENV=True" in forced
