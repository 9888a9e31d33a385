"""A parity side at a git ref, through the installed CLI on a fresh default sandbox."""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path

from runbook_lib.base.fsutil import workspace_hash
from runbook_lib.target.gitutil import git
from tests.runutil import cli, open_incident_cli


def _sandbox(tmp_path: Path, ref: str) -> Path:
    root = tmp_path / "sb"
    made = cli("sandbox", "create", str(root))
    assert made.returncode == 0, made.stderr
    with (root / "runbook.toml").open("a", encoding="utf-8") as manifest:
        manifest.write(f'\n[parity.legacy]\nenv_type = "legacy"\nref = "{ref}"\n')
    git(root, ["add", "runbook.toml"], isolated=True)
    git(root, ["commit", "-q", "-m", "parity against a ref"], isolated=True)
    return root


def _parity(root: Path, archive: Path) -> subprocess.CompletedProcess[str]:
    incident = open_incident_cli(archive, root)
    return cli(
        "parity", "--incident", incident, "--episodes", "2", "--archive", str(archive), cwd=root
    )


def _ref_trees() -> set[Path]:
    return set(Path(tempfile.gettempdir()).glob("runbook-ref-*"))


def test_a_legacy_ref_runs_in_a_worktree_that_is_gone_afterwards(tmp_path: Path) -> None:
    root = _sandbox(tmp_path, "v1.0")
    before, trees = workspace_hash(root), _ref_trees()
    done = _parity(root, tmp_path / "archive")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "100.00% of steps identical" in done.stdout
    saved = json.loads(next((tmp_path / "archive").rglob("parity.json")).read_text())
    commit = git(root, ["rev-parse", "v1.0^{commit}"]).strip()
    assert saved["envs"]["refs"] == {"legacy": {"ref": "v1.0", "commit": commit}}
    assert git(root, ["status", "--porcelain"]) == ""
    assert git(root, ["worktree", "list", "--porcelain"]).count("worktree ") == 1
    assert _ref_trees() == trees
    assert workspace_hash(root) == before


def test_a_ref_that_names_no_commit_is_one_line_exit_2(tmp_path: Path) -> None:
    root = _sandbox(tmp_path, "v9.9")
    before = workspace_hash(root)
    done = _parity(root, tmp_path / "archive")
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.count("\n") == 1 and "'v9.9' names no commit" in done.stderr
    assert "Traceback" not in done.stderr
    assert not list((tmp_path / "archive").rglob("parity.json"))
    assert workspace_hash(root) == before
