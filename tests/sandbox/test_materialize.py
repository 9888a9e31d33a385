"""`runbook sandbox create`: git history, refusals, replacement and atomicity."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from runbook_lib.base.errors import InvalidInputError
from runbook_lib.sandbox import WorkspaceInfo, create_workspace
from runbook_lib.sandbox.materialize import MARKER, check_destination, project_root
from runbook_lib.target.gitutil import git
from tests.runutil import runbook_executable

PROJECT = Path(__file__).resolve().parents[2]


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [runbook_executable(), *args],
        capture_output=True,
        text=True,
        check=False,
    )


def test_history_has_stable_tag_and_release_at_head(sandbox_info: WorkspaceInfo) -> None:
    root = sandbox_info.root
    tags = git(root, ["tag", "--points-at", "HEAD"]).split()
    assert tags == ["v2.0"]
    stable = git(root, ["rev-parse", "v1.0^{commit}"]).strip()
    assert stable == sandbox_info.stable_sha
    assert git(root, ["rev-parse", "HEAD~1"]).strip() == stable
    assert git(root, ["status", "--porcelain"]).strip() == ""
    assert (root / MARKER).is_file()


def test_release_commits_are_reproducible(
    sandbox_info: WorkspaceInfo, tmp_path: Path, model_cache: Path
) -> None:
    # Fixed dates and identities: the same templates give the same SHAs, so a
    # plan or an archive can name the stable commit of any sandbox.
    again = create_workspace(tmp_path / "again", cache_dir=model_cache)
    assert again.stable_sha == sandbox_info.stable_sha
    assert again.head_sha == sandbox_info.head_sha


def test_refuses_directory_with_files(tmp_path: Path) -> None:
    dest = tmp_path / "busy"
    dest.mkdir()
    (dest / "notes.txt").write_text("keep me")
    with pytest.raises(InvalidInputError, match="already holds files"):
        check_destination(dest, force=False)
    assert (dest / "notes.txt").read_text() == "keep me"


def test_force_does_not_delete_a_directory_that_is_not_a_sandbox(tmp_path: Path) -> None:
    dest = tmp_path / "busy"
    dest.mkdir()
    (dest / "notes.txt").write_text("keep me")
    with pytest.raises(InvalidInputError, match="not a runbook sandbox"):
        check_destination(dest, force=True)
    assert (dest / "notes.txt").read_text() == "keep me"


def test_refuses_a_file(tmp_path: Path) -> None:
    dest = tmp_path / "file"
    dest.write_text("x")
    with pytest.raises(InvalidInputError, match="not a directory"):
        check_destination(dest, force=True)


@pytest.mark.parametrize("relative", [".", "runbook_lib", "tests/ws", "outputs"])
def test_refuses_inside_project_tree(relative: str) -> None:
    assert project_root() == PROJECT
    with pytest.raises(InvalidInputError, match="inside the runbook project tree"):
        check_destination(PROJECT / relative, force=True)


def test_allows_under_outputs() -> None:
    check_destination(PROJECT / "outputs" / "not-yet-created", force=False)


def test_empty_directory_is_accepted(tmp_path: Path) -> None:
    check_destination(tmp_path, force=False)


@pytest.mark.slow
def test_force_replaces_a_previous_sandbox(tmp_path: Path, model_cache: Path) -> None:
    dest = tmp_path / "ws"
    create_workspace(dest, cache_dir=model_cache)
    (dest / "scratch.txt").write_text("left by an operator")
    with pytest.raises(InvalidInputError):
        create_workspace(dest, cache_dir=model_cache)
    info = create_workspace(dest, force=True, cache_dir=model_cache)
    assert info.root == dest.resolve()
    assert not (dest / "scratch.txt").exists()
    leftovers = [p.name for p in tmp_path.iterdir() if p.name != "ws"]
    assert leftovers == []


def test_failed_build_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from runbook_lib.sandbox import artifacts

    def explode(
        workspace: Path,
        *,
        cache_dir: Path | None = None,
        profile: str = "default",
        progress: object = None,
    ) -> dict[str, str]:
        raise RuntimeError("artifact build failed")

    monkeypatch.setattr(artifacts, "build_all", explode)
    with pytest.raises(RuntimeError, match="artifact build failed"):
        create_workspace(tmp_path / "ws", cache_dir=tmp_path / "cache")
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_cli_refusal_is_one_line_with_exit_2(tmp_path: Path) -> None:
    dest = tmp_path / "busy"
    dest.mkdir()
    (dest / "notes.txt").write_text("keep me")
    proc = run_cli("sandbox", "create", str(dest))
    assert proc.returncode == 2
    assert proc.stderr.startswith("runbook: error: ")
    assert "already holds files" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_cli_help_documents_commands() -> None:
    top = run_cli("--help")
    assert top.returncode == 0
    for word in ("sandbox", "drill", "Exit codes", "stale"):
        assert word in top.stdout
    create = run_cli("sandbox", "create", "--help")
    for word in ("--force", "--cache-dir", "--json", "outputs/"):
        assert word in create.stdout


def test_every_release_file_is_committed_as_templated(sandbox_info: WorkspaceInfo) -> None:
    """Each release commit holds exactly its templates' bytes (no stale stat cache)."""
    from runbook_lib.sandbox.materialize import FILES_DIR, template_files

    root = sandbox_info.root
    for overlay, tag in (("v1", "v1.0"), ("v2", "v2.0")):
        expected: dict[str, bytes] = {}
        for layer in ("common", overlay):
            for path in template_files(FILES_DIR / layer):
                expected[path.relative_to(FILES_DIR / layer).as_posix()] = path.read_bytes()
        listed = git(root, ["ls-tree", "-r", "--name-only", tag]).split()
        assert sorted(listed) == sorted(expected)
        for name in ("packages/trade-agent-sac/pyproject.toml", "config.ini"):
            shown = subprocess.run(
                ["git", "-C", str(root), "show", f"{tag}:{name}"], capture_output=True, check=True
            ).stdout
            assert shown == expected[name], (tag, name)
