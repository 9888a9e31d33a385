"""The SAC agent's artifacts in a created sandbox: models, cache, wheels, site dir, backup."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from runbook_lib.rollback.actions.package import installed, pip_install_command
from runbook_lib.sandbox import WorkspaceInfo, create_workspace
from runbook_lib.sandbox.sac_artifacts import (
    BACKUP_TIMESTAMP,
    Release,
    _cached_model,
    export_tree,
    training_key,
)
from runbook_lib.target.checksums import verify_directory
from runbook_lib.target.gitutil import git

PACKAGE = "trade-agent-sac"


def test_models_are_real_sb3_saves(sandbox: Path) -> None:
    for name in ("sac_v1.zip", "sac_v2.zip"):
        with zipfile.ZipFile(sandbox / "models" / name) as archive:
            names = set(archive.namelist())
            assert {"data", "policy.pth", "pytorch_variables.pth"} <= names
            data = json.loads(archive.read("data"))
        assert "observation_space" in data and "action_space" in data


def test_second_create_reuses_the_cache(
    sandbox_info: WorkspaceInfo, model_cache: Path, tmp_path: Path
) -> None:
    again = create_workspace(tmp_path / "ws", cache_dir=model_cache)
    assert again.artifacts["models"] == "sac_v1.zip, sac_v2.zip (cache hit)"
    assert "(cache hit)" in again.artifacts["package"]
    for name in ("sac_v1.zip", "sac_v2.zip"):
        ours = (again.root / "models" / name).read_bytes()
        assert ours == (sandbox_info.root / "models" / name).read_bytes()


def test_artifacts_are_untracked_and_ignored(sandbox: Path) -> None:
    assert git(sandbox, ["status", "--porcelain"]).strip() == ""
    ignored = git(sandbox, ["status", "--porcelain", "--ignored"])
    for path in ("models/", "backups/", "wheelhouse/", ".site/"):
        assert f"!! {path}" in ignored


def test_backup_holds_the_stable_config_and_model(sandbox: Path) -> None:
    backups = sorted((sandbox / "backups").iterdir())
    assert [p.name for p in backups] == [BACKUP_TIMESTAMP]
    assert re.fullmatch(r"\d{8}T\d{6}Z", BACKUP_TIMESTAMP)
    backup = backups[0]
    report = verify_directory(backup)
    assert report.passed, report.summary()
    assert report.ok == ("configs/sac_config.json", "models/sac_v1.zip")
    stable_config = git(sandbox, ["show", "v1.0:configs/sac_config.json"])
    assert (backup / "configs/sac_config.json").read_text() == stable_config
    assert (backup / "models/sac_v1.zip").read_bytes() == (
        sandbox / "models/sac_v1.zip"
    ).read_bytes()


@pytest.mark.skipif(shutil.which("sha256sum") is None, reason="no sha256sum tool")
def test_sha256sum_verifies_the_backup(sandbox: Path) -> None:
    subprocess.run(
        ["sha256sum", "-c", "--quiet", "SHA256SUMS"],
        cwd=sandbox / "backups" / BACKUP_TIMESTAMP,
        check=True,
    )


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


@pytest.mark.parametrize("version", ["1.0.0", "1.1.0"])
def test_wheels_are_valid(sandbox: Path, version: str) -> None:
    wheel = sandbox / "wheelhouse" / f"trade_agent_sac-{version}-py3-none-any.whl"
    info = f"trade_agent_sac-{version}.dist-info"
    with zipfile.ZipFile(wheel) as archive:
        assert archive.testzip() is None
        metadata = archive.read(f"{info}/METADATA").decode()
        assert f"Name: {PACKAGE}\n" in metadata and f"Version: {version}\n" in metadata
        assert "Root-Is-Purelib: true" in archive.read(f"{info}/WHEEL").decode()
        rows = list(csv.reader(io.StringIO(archive.read(f"{info}/RECORD").decode())))
        listed = {row[0] for row in rows}
        assert listed == set(archive.namelist())
        for name, digest, size in rows:
            if name != f"{info}/RECORD":
                data = archive.read(name)
                assert (digest, int(size)) == (_record_hash(data), len(data)), name
        init = archive.read("trade_agent_sac/__init__.py").decode()
        assert f'__version__ = "{version}"' in init


def test_release_package_is_installed_in_site(sandbox: Path) -> None:
    assert [d.version for d in installed(sandbox / ".site", PACKAGE)] == ["1.1.0"]
    assert (sandbox / ".site/trade_agent_sac/server.py").is_file()
    assert not list((sandbox / ".site").rglob("*.pyc"))


def test_pip_downgrades_offline_from_the_wheelhouse(fresh_sandbox: Path) -> None:
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--no-index",
        "--find-links",
        "wheelhouse",
        "--target",
        ".site",
        "--upgrade",
        "--disable-pip-version-check",
        f"{PACKAGE}==1.0.0",
    ]
    subprocess.run(command, cwd=fresh_sandbox, check=True)
    version = subprocess.run(
        [sys.executable, "-c", "import trade_agent_sac; print(trade_agent_sac.__version__)"],
        cwd=fresh_sandbox,
        env={"PYTHONPATH": ".site"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert version == "1.0.0"
    # pip --target --upgrade leaves the old dist-info behind: the state the package action avoids.
    assert "1.0.0" in [d.version for d in installed(fresh_sandbox / ".site", PACKAGE)]


def test_the_package_action_command_installs_the_stable_wheel(
    fresh_sandbox: Path, tmp_path: Path
) -> None:
    target = tmp_path / "site"
    command = pip_install_command(
        sys.executable, fresh_sandbox / "wheelhouse", target, PACKAGE, "1.0.0"
    )
    subprocess.run(command, check=True)
    assert [d.version for d in installed(target, PACKAGE)] == ["1.0.0"]


def test_training_key_follows_code_and_config_only(sandbox: Path, tmp_path: Path) -> None:
    tree = export_tree(sandbox, "v2.0", tmp_path / "v2")
    release = Release("v2.0", tree, "models/sac_v2.zip", "1.1.0")
    key = training_key(release)
    (tree / "docs/agents/sac_agent.md").write_text("edited docs do not retrain\n")
    assert training_key(release) == key
    config = tree / "configs/sac_config.json"
    config.write_text(config.read_text().replace('"seed": 7', '"seed": 8'))
    assert training_key(release) != key
    v1 = Release(
        "v1.0", export_tree(sandbox, "v1.0", tmp_path / "v1"), "models/sac_v1.zip", "1.0.0"
    )
    assert training_key(v1) not in {key, training_key(release)}


def test_a_corrupted_cache_entry_is_not_used(tmp_path: Path) -> None:
    entry = tmp_path / "entry"
    entry.mkdir()
    (entry / "model.zip").write_bytes(b"model")
    digest = hashlib.sha256(b"model").hexdigest()
    (entry / "meta.json").write_text(json.dumps({"sha256": digest}))
    assert _cached_model(entry) == entry / "model.zip"
    (entry / "model.zip").write_bytes(b"modeL")
    assert _cached_model(entry) is None


def test_v1_files_differ_where_a_restore_must_act(sandbox: Path) -> None:
    changed = set(git(sandbox, ["diff", "--name-status", "v1.0", "v2.0"]).splitlines())
    assert "A\tsrc/rl/sac/sac_features.py" in changed
    assert "A\tdocs/agents/sac_features.md" in changed
    for path in (
        "configs/sac_config.json",
        "src/rl/sac/trading_env.py",
        "docs/agents/sac_agent.md",
        "packages/trade-agent-sac/pyproject.toml",
    ):
        assert f"M\t{path}" in changed
