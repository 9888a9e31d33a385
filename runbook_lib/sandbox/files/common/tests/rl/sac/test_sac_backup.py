"""The backups of the stable config and model are complete and intact."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from src.rl.sac.integrity import MANIFEST, verify_manifest


def backups(repo_root: Path) -> list[Path]:
    return sorted(path.parent for path in (repo_root / "backups").glob(f"*/{MANIFEST}"))


def test_a_backup_exists(repo_root: Path) -> None:
    found = backups(repo_root)
    assert found, f"no backups/<timestamp>/{MANIFEST}: nothing to restore from"
    assert all(re.fullmatch(r"\d{8}T\d{6}Z", path.name) for path in found)


def test_backup_matches_sha256sums(repo_root: Path) -> None:
    problems = []
    for backup in backups(repo_root):
        report = verify_manifest(backup)
        problems += [f"{backup.relative_to(repo_root)}/{line}" for line in report.problems()]
    assert not problems, "backup corrupted: " + "; ".join(problems)


def test_backup_holds_config_and_model(repo_root: Path) -> None:
    for backup in backups(repo_root):
        listed = (backup / MANIFEST).read_text(encoding="utf-8")
        assert "  configs/sac_config.json\n" in listed
        assert re.search(r"  models/sac_v\d+\.zip\n", listed)


@pytest.mark.skipif(shutil.which("sha256sum") is None, reason="no sha256sum tool")
def test_sha256sum_tool_agrees(repo_root: Path) -> None:
    for backup in backups(repo_root):
        proc = subprocess.run(
            ["sha256sum", "-c", "--quiet", MANIFEST],
            cwd=backup,
            capture_output=True,
            text=True,
            check=False,
        )
        assert proc.returncode == 0, f"sha256sum -c in {backup.name}: {proc.stdout}{proc.stderr}"
