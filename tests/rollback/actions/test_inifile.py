from __future__ import annotations

import configparser

import pytest

from runbook_lib.base.errors import InvalidInputError
from runbook_lib.target.inifile import read_value, set_value

CONFIG = """\
# Simulator configuration
[simulation]
erlang = 300   ; offered load
k_paths=3

[rl]
# Rollback switch (seed 000, 1.3)
use_unified_env = true  # new env by default
policy = ppo

[logging]
level = INFO
"""


def test_changes_one_value_and_nothing_else() -> None:
    new = set_value(CONFIG, "rl", "use_unified_env", "false")
    old_lines, new_lines = CONFIG.splitlines(), new.splitlines()
    changed = [(a, b) for a, b in zip(old_lines, new_lines, strict=True) if a != b]
    assert changed == [
        (
            "use_unified_env = true  # new env by default",
            "use_unified_env = false  # new env by default",
        )
    ]
    parser = configparser.ConfigParser(inline_comment_prefixes=("#", ";"))
    parser.read_string(new)
    assert parser.getboolean("rl", "use_unified_env") is False


def test_reads_value_and_line() -> None:
    found = read_value(CONFIG, "rl", "use_unified_env")
    assert (found.value, found.line) == ("true", 8)
    assert read_value(CONFIG, "rl", "missing").value is None
    assert read_value(CONFIG, "nosection", "x").line is None
    assert read_value(CONFIG, "simulation", "erlang").value == "300"
    assert read_value(CONFIG, "simulation", "k_paths").value == "3"


def test_same_key_in_another_section_is_untouched() -> None:
    text = "[a]\nflag = 1\n[b]\nflag = 1\n"
    assert set_value(text, "b", "flag", "0") == "[a]\nflag = 1\n[b]\nflag = 0\n"


def test_adds_missing_key_at_end_of_section_before_blank_lines() -> None:
    new = set_value(CONFIG, "simulation", "num_slots", "64")
    assert "k_paths=3\nnum_slots = 64\n\n[rl]" in new


def test_adds_missing_section() -> None:
    assert set_value("[a]\nx = 1", "rl", "use_unified_env", "false") == (
        "[a]\nx = 1\n\n[rl]\nuse_unified_env = false\n"
    )
    assert set_value("", "rl", "k", "v") == "[rl]\nk = v\n"


def test_keeps_crlf_line_endings() -> None:
    text = "[rl]\r\nuse_unified_env = true\r\n"
    assert (
        set_value(text, "rl", "use_unified_env", "false") == "[rl]\r\nuse_unified_env = false\r\n"
    )


def test_rejects_multiline_value() -> None:
    with pytest.raises(InvalidInputError, match="one line"):
        set_value(CONFIG, "rl", "use_unified_env", "false\n[x]")
