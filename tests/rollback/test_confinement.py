"""No write, removal or backup read ever leaves the target, whatever links it holds.

Each variant goes through the CLI in a fresh process and must exit 2 with one
line naming the link, while every file outside the target keeps its hash.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from runbook_lib.base.fsutil import tree_hash
from runbook_lib.incident.store import open_incident
from runbook_lib.sandbox.sac_artifacts import BACKUP_TIMESTAMP
from runbook_lib.target.checksums import write_sha256sums
from tests.runutil import cli

BACKUP = f"backups/{BACKUP_TIMESTAMP}"


@pytest.fixture
def setup(fresh_sandbox: Path, tmp_path: Path) -> tuple[Path, Path, str, Path]:
    archive = tmp_path / "archive"
    incident = open_incident(archive, "links", "high", "deployment-failure").id
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "hostname").write_text("not-a-config\n")
    return fresh_sandbox, archive, incident, outside


def _plan(root: Path, archive: Path, incident: str, strategy: str) -> tuple[int, str]:
    proc = cli(
        "rollback",
        "plan",
        "--incident",
        incident,
        "--strategy",
        strategy,
        "--target",
        str(root),
        "--archive",
        str(archive),
    )
    return proc.returncode, proc.stderr


def _refused(code: int, stderr: str, link: Path) -> None:
    assert code == 2, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and str(link) in lines[0] and "symlink" in lines[0], stderr


def test_directory_link_on_the_path_is_refused(setup: tuple[Path, Path, str, Path]) -> None:
    root, archive, incident, outside = setup
    shutil.move(str(root / "configs"), outside / "configs")
    (root / "configs").symlink_to(outside / "configs")
    before = tree_hash(outside)
    code, err = _plan(root, archive, incident, "sac-full")
    _refused(code, err, root / "configs")
    assert tree_hash(outside) == before


def test_final_file_link_is_refused_at_plan_and_at_apply(
    setup: tuple[Path, Path, str, Path],
) -> None:
    root, archive, incident, outside = setup
    config = root / "config.ini"
    shutil.copy(config, outside / "config.ini")
    plan = cli(
        "rollback",
        "plan",
        "--incident",
        incident,
        "--strategy",
        "config",
        "--json",
        "--target",
        str(root),
        "--archive",
        str(archive),
    )
    assert plan.returncode == 0, plan.stderr
    config.unlink()
    config.symlink_to(outside / "config.ini")  # same bytes: the plan is not stale
    before = tree_hash(outside)
    code, err = _plan(root, archive, incident, "config")
    _refused(code, err, config)
    sha = json.loads(plan.stdout)["sha256"]
    applied = cli(
        "rollback",
        "apply",
        "--incident",
        incident,
        "--plan",
        sha,
        "--yes",
        "--target",
        str(root),
        "--archive",
        str(archive),
    )
    _refused(applied.returncode, applied.stderr, config)
    assert tree_hash(outside) == before


def test_link_inside_a_backup_is_refused(setup: tuple[Path, Path, str, Path]) -> None:
    root, archive, incident, outside = setup
    backed = root / BACKUP / "configs" / "sac_config.json"
    backed.unlink()
    backed.symlink_to(outside / "hostname")
    write_sha256sums(root / BACKUP)  # the checksum recomputed, as an attacker would
    before, config = tree_hash(outside), (root / "configs" / "sac_config.json").read_bytes()
    code, err = _plan(root, archive, incident, "sac-full")
    _refused(code, err, backed)
    assert tree_hash(outside) == before
    assert (root / "configs" / "sac_config.json").read_bytes() == config


def test_backup_directory_link_is_refused(setup: tuple[Path, Path, str, Path]) -> None:
    root, archive, incident, outside = setup
    shutil.move(str(root / BACKUP), outside / "backup")
    (root / BACKUP).symlink_to(outside / "backup")
    before = tree_hash(outside)
    code, err = _plan(root, archive, incident, "sac-full")
    _refused(code, err, root / BACKUP)
    assert tree_hash(outside) == before


def test_target_root_outside_the_manifest_directory_is_refused(
    setup: tuple[Path, Path, str, Path],
) -> None:
    root, archive, incident, outside = setup
    manifest = root / "runbook.toml"
    text = manifest.read_text()
    assert 'root = "."' in text
    manifest.write_text(text.replace('root = "."', 'root = "../outside"', 1))
    before = tree_hash(outside)
    code, err = _plan(root, archive, incident, "config")
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "outside" in err and "manifest's directory" in err, err
    assert tree_hash(outside) == before


def test_manifest_over_one_mib_is_refused(setup: tuple[Path, Path, str, Path]) -> None:
    root, archive, incident, _ = setup
    manifest = root / "runbook.toml"
    manifest.write_text(manifest.read_text() + "# padding\n" * 120_000)
    code, err = _plan(root, archive, incident, "config")
    assert code == 2 and "1 MiB" in err and len(err.strip().splitlines()) == 1, err


@pytest.mark.parametrize("case", ["duplicate-section", "duplicate-key", "broken-syntax"])
def test_config_the_target_cannot_read_is_refused_at_plan_time(
    setup: tuple[Path, Path, str, Path],
    case: str,
) -> None:
    root, archive, incident, _ = setup
    config = root / "config.ini"
    text = config.read_text()
    extra = {
        "duplicate-section": "\n[rl]\nuse_unified_env = true\n",
        "duplicate-key": "",
        "broken-syntax": "\nthis line has no section or separator\n[oops\n",
    }[case]
    if case == "duplicate-key":
        text = text.replace("[rl]\n", "[rl]\nuse_unified_env = true\n", 1)
    config.write_text(text + extra)
    before = config.read_bytes()
    code, err = _plan(root, archive, incident, "config")
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "config.ini line " in err, err
    assert config.read_bytes() == before
