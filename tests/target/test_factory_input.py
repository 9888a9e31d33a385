"""``[env] config`` loader/builder and ``[env] factory_kwargs``: the factory's input."""

from __future__ import annotations

from pathlib import Path

import pytest

from runbook_lib.base.errors import InvalidInputError
from runbook_lib.target.manifest import load_manifest

HEAD = '[target]\nname = "t"\n\n[git]\nstable_ref = "v1"\n\n[env]\nfactory = "pkg.envs:make"\n'
SWITCH = '[env.config]\nfile = "exp.ini"\nsection = "rl"\nkey = "use_unified_env"\n'


def manifest(tmp_path: Path, extra: str) -> Path:
    (tmp_path / "runbook.toml").write_text(HEAD + extra, encoding="utf-8")
    return tmp_path


def test_without_loader_the_switch_table_is_as_before(tmp_path: Path) -> None:
    env = load_manifest(manifest(tmp_path, SWITCH)).env
    assert env is not None and env.config is not None
    assert env.config.factory_config(tmp_path) is None and env.factory_kwargs == {}


def test_loader_gets_the_switch_file_and_kwargs_pass_through(tmp_path: Path) -> None:
    extra = SWITCH + 'loader = "pkg.config:load"\n\n[env.factory_kwargs]\nnum_requests = 50\n'
    extra += 'mode = "fast"\n'
    env = load_manifest(manifest(tmp_path, extra)).env
    assert env is not None and env.config is not None
    assert env.config.factory_config(tmp_path) == {
        "loader": "pkg.config:load",
        "file": str(tmp_path / "exp.ini"),
    }
    assert env.factory_kwargs == {"num_requests": 50, "mode": "fast"}


def test_builder_is_called_without_the_file(tmp_path: Path) -> None:
    env = load_manifest(manifest(tmp_path, SWITCH + 'builder = "pkg.config:default"\n')).env
    assert env is not None and env.config is not None
    assert env.config.factory_config(tmp_path) == {"builder": "pkg.config:default"}


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (SWITCH + 'loader = "a:b"\nbuilder = "c:d"\n', "not both"),
        (SWITCH + 'loader = "no entry point"\n', "is not an entry point"),
        ("[env.factory_kwargs]\nsizes = [1, 2]\n", "must be a string, number or boolean"),
    ],
)
def test_bad_factory_input_is_refused(tmp_path: Path, extra: str, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        load_manifest(manifest(tmp_path, extra))
