"""The parsed-TOML cache: keyed by the text, never stale, never trusted over a bad entry."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from runbook_lib.base.errors import InvalidInputError
from runbook_lib.target import tomlcache
from runbook_lib.target.tomllines import key_lines

TEXT = """\
[target]
name = "demo"   # a comment

[[env.vars]]
name = "USE_UNIFIED_ENV"
legacy = "0"

[[env.vars]]
name = 'RL_ENV_TYPE'
margin = 0.25
"""


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "cache"
    monkeypatch.setenv("RUNBOOK_CACHE_DIR", str(directory))
    return directory


def _parse_in_child(cache: Path, path: Path) -> tuple[dict[str, object], bool]:
    """Parse ``path`` in a fresh process: its result and whether it imported tomllib."""
    code = (
        "import json, sys; from pathlib import Path; from runbook_lib.target import tomlcache; "
        f"data, lines = tomlcache.parse(Path({str(path)!r}), Path({str(path)!r}).read_text()); "
        "print(json.dumps([data, sorted(([*k, v] for k, v in lines.items()), key=str), "
        "'tomllib' in sys.modules]))"
    )
    env = {**os.environ, "RUNBOOK_CACHE_DIR": str(cache)}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    ).stdout
    data, lines, imported = json.loads(out)
    return {"data": data, "lines": lines}, imported


def test_a_second_process_reads_the_parse_without_tomllib(cache: Path, tmp_path: Path) -> None:
    path = tmp_path / "runbook.toml"
    path.write_text(TEXT)
    first, first_imported = _parse_in_child(cache, path)
    second, second_imported = _parse_in_child(cache, path)
    assert first_imported and not second_imported
    assert first == second
    assert first["data"] == tomllib.loads(TEXT)
    expected_lines = sorted(([*key, line] for key, line in key_lines(TEXT).items()), key=str)
    assert first["lines"] == expected_lines
    assert tomlcache.cache_path(TEXT).is_file()


def test_an_edited_text_is_parsed_again(cache: Path, tmp_path: Path) -> None:
    tomlcache.parse(tmp_path / "a.toml", TEXT)
    edited = TEXT.replace('"demo"', '"other"')
    data, _ = tomlcache.parse(tmp_path / "a.toml", edited)
    assert data["target"] == {"name": "other"}
    assert tomlcache.cache_path(TEXT) != tomlcache.cache_path(edited)


@pytest.mark.parametrize(
    "entry",
    [b"not json", b'{"data": [], "lines": []}', b'{"data": {}, "lines": [["a", "x"]]}', b"{}"],
)
def test_a_bad_entry_is_parsed_again(cache: Path, tmp_path: Path, entry: bytes) -> None:
    path = tomlcache.cache_path(TEXT)
    path.parent.mkdir(parents=True)
    path.write_bytes(entry)
    data, lines = tomlcache.parse(tmp_path / "a.toml", TEXT)
    assert data == tomllib.loads(TEXT)
    assert lines == key_lines(TEXT)


def test_dates_are_not_cached(cache: Path, tmp_path: Path) -> None:
    text = "[target]\nwhen = 2026-12-03T10:00:00Z\n"
    data, _ = tomlcache.parse(tmp_path / "a.toml", text)
    assert data == tomllib.loads(text)
    assert not tomlcache.cache_path(text).exists()


def test_invalid_toml_names_the_file_and_caches_nothing(cache: Path, tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match=r"a\.toml: not valid TOML"):
        tomlcache.parse(tmp_path / "a.toml", "[target\n")
    assert not cache.exists() or not any(cache.rglob("*.json"))


def test_an_unwritable_cache_only_costs_the_parse(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("RUNBOOK_CACHE_DIR", str(blocker / "cache"))  # under a file: no mkdir
    data, _ = tomlcache.parse(tmp_path / "a.toml", TEXT)
    assert data == tomllib.loads(TEXT)
