"""Release defects: each is injected as documented and the workspace's own pytest names it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from runbook_lib.base.errors import InvalidInputError, WorkspaceError
from runbook_lib.sandbox import defects
from runbook_lib.sandbox.defects import DEFECTS, SYMPTOMS, inject_defect
from runbook_lib.target.checksums import verify_directory
from runbook_lib.target.gitutil import git

BACKUP = "backups/20260301T090000Z"


def run_workspace_tests(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "PYTHONPATH"))}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rfE", "--tb=short", *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


def test_table_is_documented() -> None:
    assert set(DEFECTS) == set(SYMPTOMS)
    assert len(DEFECTS) >= 8
    for name, description in DEFECTS.items():
        assert f"``{name}``" in (defects.__doc__ or ""), name
        assert description


def test_unknown_defect_lists_the_names(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="unknown defect 'nope'") as caught:
        inject_defect(tmp_path, "nope")
    assert all(name in str(caught.value) for name in DEFECTS)


def test_workspace_must_be_a_directory(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="not a directory"):
        inject_defect(tmp_path / "absent", "config-corrupt")


def test_a_workspace_without_the_target_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(WorkspaceError, match=r"sac_config\.json is missing"):
        inject_defect(tmp_path, "config-corrupt")
    with pytest.raises(WorkspaceError, match="no backups"):
        inject_defect(tmp_path, "backup-truncated")


def test_code_defect_is_a_working_tree_change_and_applies_once(fresh_sandbox: Path) -> None:
    summary = inject_defect(fresh_sandbox, "code-nan-action")
    assert summary.startswith("code-nan-action: src/rl/sac/sac_agent.py")
    assert git(fresh_sandbox, ["diff", "--name-only"]).split() == ["src/rl/sac/sac_agent.py"]
    with pytest.raises(WorkspaceError, match="does not hold the code this defect changes"):
        inject_defect(fresh_sandbox, "code-nan-action")


@pytest.mark.parametrize(
    ("name", "finding"),
    [
        ("backup-flipped-byte", ("modified", "models/sac_v1.zip")),
        ("backup-truncated", ("modified", "models/sac_v1.zip")),
        ("backup-missing-file", ("missing", "configs/sac_config.json")),
    ],
)
def test_every_backup_variant_is_caught_by_sha256sums(
    fresh_sandbox: Path, name: str, finding: tuple[str, str]
) -> None:
    backup = fresh_sandbox / BACKUP
    assert verify_directory(backup).passed
    inject_defect(fresh_sandbox, name)
    report = verify_directory(backup)
    assert not report.passed
    kind, path = finding
    assert getattr(report, kind) == (path,)
    assert len(report.problems()) == 1


@pytest.mark.slow
def test_workspace_tests_pass_on_a_healthy_sandbox(fresh_sandbox: Path) -> None:
    proc = run_workspace_tests(fresh_sandbox)
    assert proc.returncode == 0, proc.stdout[-3000:]


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(DEFECTS))
def test_workspace_tests_name_each_defect(sandbox: Path, tmp_path: Path, name: str) -> None:
    root = tmp_path / "ws"
    shutil.copytree(sandbox, root, symlinks=True)
    inject_defect(root, name)
    symptom = SYMPTOMS[name]
    proc = run_workspace_tests(root, "tests/rl/sac")
    assert proc.returncode == 1, proc.stdout[-3000:]
    assert f"FAILED {symptom.test}" in proc.stdout, proc.stdout[-3000:]
    assert symptom.message in proc.stdout, proc.stdout[-3000:]
