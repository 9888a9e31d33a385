from __future__ import annotations

from pathlib import Path

import pytest

from runbook_lib.base.errors import InvalidInputError, StalePlanError
from runbook_lib.base.fsutil import tree_hash
from runbook_lib.rollback.actions.gitrestore import GitRestoreAction
from runbook_lib.target.gitutil import git
from tests.rollback.actions.lifecycle import full_cycle, make_context, save_blobs


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    git(root, ["init", "-q", "-b", "main"], isolated=True)
    write(
        root,
        {
            "src/rl/sac/__init__.py": "v1\n",
            "src/rl/sac/sac_agent.py": "agent v1\n",
            "docs/agents/sac_agent.md": "# v1\n",
            "README.md": "readme\n",
        },
    )
    git(root, ["add", "-A"], isolated=True)
    git(root, ["commit", "-qm", "v1"], isolated=True)
    git(root, ["tag", "v1.0"], isolated=True)
    write(
        root,
        {
            "src/rl/sac/sac_agent.py": "agent v2\n",
            "src/rl/sac/sac_features.py": "new\n",
            "docs/agents/sac_agent.md": "# v2\n",
            "docs/agents/new_doc.md": "v2 only\n",
            "README.md": "readme v2\n",
        },
    )
    git(root, ["add", "-A"], isolated=True)
    git(root, ["commit", "-qm", "v2"], isolated=True)
    return root


def test_plan_lists_leftovers_and_cycle_restores(repo: Path, tmp_path: Path) -> None:
    (repo / "src/rl/sac/scratch.py").write_text("untracked operator file\n")
    (repo / "src/rl/sac/__pycache__").mkdir()
    (repo / "src/rl/sac/__pycache__/x.pyc").write_bytes(b"\0")
    action = GitRestoreAction(ref="v1.0", paths=("src/rl/sac/", "docs/agents/"))
    step = full_cycle(action, repo, tmp_path / "incident")
    kinds = {change.path: change.kind for change in step.changes}
    assert kinds == {
        "src/rl/sac/sac_agent.py": "modify",
        "docs/agents/sac_agent.md": "modify",
        "src/rl/sac/sac_features.py": "remove",
        "src/rl/sac/scratch.py": "remove",
        "docs/agents/new_doc.md": "remove",
    }
    assert step.commands[0].startswith("git checkout ")
    assert "rm src/rl/sac/sac_features.py" in step.commands


def test_applied_state_matches_the_stable_ref(repo: Path, tmp_path: Path) -> None:
    (repo / "src/rl/sac/sac_agent.py").write_text("local hotfix\n")
    action = GitRestoreAction(ref="v1.0", paths=("src/rl/sac/",))
    ctx = make_context(repo, tmp_path / "incident")
    step = action.plan(repo)
    save_blobs(step, ctx)
    action.apply(step, ctx)
    assert (repo / "src/rl/sac/sac_agent.py").read_text() == "agent v1\n"
    assert not (repo / "src/rl/sac/sac_features.py").exists()
    assert (repo / "README.md").read_text() == "readme v2\n"
    patches = list((tmp_path / "incident" / "patches").iterdir())
    assert len(patches) == 1 and "local hotfix" in patches[0].read_text()
    assert git(repo, ["diff", "--name-only", "v1.0", "--", "src/rl/sac/"]).strip() == ""


def test_missing_ref_is_refused_before_anything_changes(repo: Path) -> None:
    before = tree_hash(repo)
    with pytest.raises(
        InvalidInputError, match=r"stable ref 'v0.9' does not exist.*tags there: v1.0"
    ):
        GitRestoreAction(ref="v0.9", paths=("src/rl/sac/",)).plan(repo)
    assert tree_hash(repo) == before


def test_change_after_plan_makes_apply_stale(repo: Path, tmp_path: Path) -> None:
    action = GitRestoreAction(ref="v1.0", paths=("src/rl/sac/",))
    ctx = make_context(repo, tmp_path / "incident")
    step = action.plan(repo)
    save_blobs(step, ctx)
    (repo / "src/rl/sac/sac_features.py").write_text("edited after the plan\n")
    with pytest.raises(StalePlanError, match=r"sac_features\.py changed since the plan"):
        action.apply(step, ctx)


@pytest.mark.parametrize("path", ["../etc", "/abs", ""])
def test_rejects_paths_outside_the_target(repo: Path, path: str) -> None:
    with pytest.raises(InvalidInputError, match="must be relative"):
        GitRestoreAction(ref="v1.0", paths=(path,)).plan(repo)
