from __future__ import annotations

from pathlib import Path

import pytest

from runbook_lib.base.errors import InvalidInputError
from runbook_lib.rollback.actions.envflags import (
    CodeLevelAction,
    ConfigFlagAction,
    EnvVarAction,
    ForceFlagAction,
)
from runbook_lib.target.envfile import read_rollback_env
from tests.rollback.actions.lifecycle import full_cycle

CONFIG = "# settings\n[rl]\n# switch\nuse_unified_env = true  # default on\n\n[simulation]\nk = 3\n"
FACTORY = '"""f."""\n\n_FORCE_LEGACY_ENV = False  # flip for global rollback\n'
SCRIPT = "from f import EnvType, create_sim_env\n\nenv = create_sim_env(config)\n"


@pytest.fixture
def target(tmp_path: Path) -> Path:
    root = tmp_path / "target"
    (root / "scripts").mkdir(parents=True)
    (root / "config.ini").write_text(CONFIG)
    (root / "factory.py").write_text(FACTORY)
    (root / "scripts" / "run.py").write_text(SCRIPT)
    return root


def test_env_var_cycle(target: Path, tmp_path: Path) -> None:
    action = EnvVarAction({"USE_UNIFIED_ENV": "0", "RL_ENV_TYPE": "legacy"}, note="INC-1")
    step = full_cycle(action, target, tmp_path / "inc")
    assert step.commands == ("export USE_UNIFIED_ENV=0", "export RL_ENV_TYPE=legacy")
    assert read_rollback_env(target) == {}


def test_env_var_keeps_other_variables(target: Path, tmp_path: Path) -> None:
    (target / ".runbook").mkdir()
    (target / ".runbook" / "rollback.env").write_text("OTHER=1\n")
    full_cycle(EnvVarAction({"USE_UNIFIED_ENV": "0"}), target, tmp_path / "inc")
    assert read_rollback_env(target) == {"OTHER": "1"}


def test_config_flag_cycle_keeps_comments(target: Path, tmp_path: Path) -> None:
    action = ConfigFlagAction("config.ini", "rl", "use_unified_env", "false")
    step = full_cycle(action, target, tmp_path / "inc")
    assert step.changes[0].summary == "[rl] use_unified_env: true -> false (line 4)"


def test_force_flag_cycle(target: Path, tmp_path: Path) -> None:
    step = full_cycle(ForceFlagAction("factory.py", "_FORCE_LEGACY_ENV"), target, tmp_path / "inc")
    assert "False -> True (line 3)" in step.changes[0].summary


def test_code_level_cycle_uses_the_enum_when_imported(target: Path, tmp_path: Path) -> None:
    action = CodeLevelAction("scripts/run.py", "create_sim_env")
    step = full_cycle(action, target, tmp_path / "inc")
    assert "env_type=EnvType.LEGACY" in step.title


def test_code_level_falls_back_to_the_string(target: Path) -> None:
    (target / "scripts" / "run.py").write_text("env = create_sim_env(config)\n")
    step = CodeLevelAction("scripts/run.py", "create_sim_env").plan(target)
    assert "env_type='legacy'" in step.title


def test_already_in_effect_plans_no_change(target: Path) -> None:
    (target / "config.ini").write_text(CONFIG.replace("= true", "= false"))
    step = ConfigFlagAction("config.ini", "rl", "use_unified_env", "false").plan(target)
    assert step.changes == ()
    assert "already in effect" in step.title


def test_missing_file_is_a_clear_error(target: Path) -> None:
    with pytest.raises(InvalidInputError, match=r"config file .*nope.ini does not exist"):
        ConfigFlagAction("nope.ini", "rl", "use_unified_env", "false").plan(target)


def test_config_undo_keeps_edits_made_since_the_rollback(target: Path, tmp_path: Path) -> None:
    from tests.rollback.actions.lifecycle import make_context, save_blobs

    action = ConfigFlagAction("config.ini", "rl", "use_unified_env", "false")
    ctx = make_context(target, tmp_path / "inc")
    step = action.plan(target)
    save_blobs(step, ctx)
    action.apply(step, ctx)
    config = target / "config.ini"
    config.write_text(config.read_text().replace("k = 3", "k = 4"))  # the fix, made meanwhile
    action.undo(step, ctx)
    assert config.read_text() == CONFIG.replace("k = 3", "k = 4")


def test_config_undo_refuses_when_the_key_itself_was_changed(target: Path, tmp_path: Path) -> None:
    from runbook_lib.base.errors import WorkspaceError
    from tests.rollback.actions.lifecycle import make_context, save_blobs

    action = ConfigFlagAction("config.ini", "rl", "use_unified_env", "false")
    ctx = make_context(target, tmp_path / "inc")
    step = action.plan(target)
    save_blobs(step, ctx)
    action.apply(step, ctx)
    config = target / "config.ini"
    config.write_text(
        config.read_text().replace("use_unified_env = false", "use_unified_env = maybe")
    )
    with pytest.raises(WorkspaceError, match="changed after the rollback"):
        action.undo(step, ctx)
