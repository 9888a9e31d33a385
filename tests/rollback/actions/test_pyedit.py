from __future__ import annotations

import ast

import pytest

from runbook_lib.base.errors import InvalidInputError
from runbook_lib.rollback.actions import pyedit

FACTORY = '''"""Factory."""

# Set to True to force legacy env for all calls
_FORCE_LEGACY_ENV = False  # Change to True for global rollback


def f() -> None:
    _FORCE_LEGACY_ENV = "shadow"
'''

SCRIPT = """from src.rl.envs.factory import EnvType, create_sim_env


def main(config):
    env = create_sim_env(
        config,
    )
    return env
"""


def test_constant_edit_changes_only_the_value() -> None:
    edit = pyedit.constant_edit(FACTORY, "_FORCE_LEGACY_ENV", "True", filename="factory.py")
    new = pyedit.apply_edit(FACTORY, edit)
    assert "_FORCE_LEGACY_ENV = True  # Change to True for global rollback" in new
    assert '_FORCE_LEGACY_ENV = "shadow"' in new
    assert pyedit.read_constant(new, "_FORCE_LEGACY_ENV", filename="factory.py") is True
    assert (edit.line, edit.old_text) == (4, "False")


def test_constant_edit_requires_exactly_one_assignment() -> None:
    with pytest.raises(InvalidInputError, match="found 0"):
        pyedit.constant_edit("x = 1\n", "_FORCE_LEGACY_ENV", "True", filename="m.py")
    with pytest.raises(InvalidInputError, match="found 2"):
        pyedit.constant_edit("A = 1\nA = 2\n", "A", "3", filename="m.py")


def test_syntax_error_names_file_and_line() -> None:
    with pytest.raises(InvalidInputError, match=r"m\.py:2: cannot parse"):
        pyedit.constant_edit("x = 1\ndef (\n", "x", "2", filename="m.py")


def test_keyword_is_added_after_trailing_comma() -> None:
    edit = pyedit.keyword_edit(
        SCRIPT, "create_sim_env", "env_type", "EnvType.LEGACY", filename="s.py"
    )
    new = pyedit.apply_edit(SCRIPT, edit)
    call = pyedit.find_calls(new, "create_sim_env", filename="s.py")[0]
    assert [ast.unparse(k.value) for k in call.keywords] == ["EnvType.LEGACY"]
    assert "        config,\n        env_type=EnvType.LEGACY,\n    )" in new


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("env = create_sim_env(config)\n", "env = create_sim_env(config, env_type='legacy')\n"),
        ("env = create_sim_env()\n", "env = create_sim_env(env_type='legacy')\n"),
        (
            "env = f.create_sim_env(c, env_type='unified')\n",
            "env = f.create_sim_env(c, env_type='legacy')\n",
        ),
        (
            "env = create_sim_env(c, seed=(1, 2))  # why\n",
            "env = create_sim_env(c, seed=(1, 2), env_type='legacy')  # why\n",
        ),
    ],
)
def test_keyword_edit_forms(source: str, expected: str) -> None:
    edit = pyedit.keyword_edit(source, "create_sim_env", "env_type", "'legacy'", filename="s.py")
    assert pyedit.apply_edit(source, edit) == expected


def test_keyword_edit_requires_one_call_site() -> None:
    with pytest.raises(InvalidInputError, match=r"found 2 \(lines: 1, 2\)"):
        pyedit.keyword_edit("a = g(1)\nb = g(2)\n", "g", "k", "1", filename="s.py")


def test_imports_name() -> None:
    assert pyedit.imports_name(SCRIPT, "EnvType", filename="s.py")
    assert not pyedit.imports_name("import os\n", "EnvType", filename="s.py")
    assert pyedit.imports_name("import src.rl as EnvType\n", "EnvType", filename="s.py")


def test_non_ascii_before_the_edit_keeps_offsets_right() -> None:
    source = "# café\nx = 'é'; _FLAG = False\n"
    edit = pyedit.constant_edit(source, "_FLAG", "True", filename="m.py")
    assert pyedit.apply_edit(source, edit) == "# café\nx = 'é'; _FLAG = True\n"
