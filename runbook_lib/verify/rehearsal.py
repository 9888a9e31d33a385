"""A rehearsal copy of the target: a temporary git worktree at HEAD, and its tree's state.

``runbook readiness`` rolls back and undoes every strategy in such a copy,
never in the user's working tree: :func:`rehearsal_worktree` adds a detached
worktree of the target's HEAD in a temporary directory outside the target and
always removes it (``git worktree remove``, then ``git worktree prune``), even
when the rehearsal fails. :func:`tree_state` is what "byte-identical" means
there: ``git status --porcelain`` and a content hash of every file, tracked or
not (:func:`~runbook_lib.base.fsutil.workspace_hash`: runtime state such as
the lock file and bytecode caches does not count).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from runbook_lib.base.errors import InvalidInputError
from runbook_lib.base.fsutil import workspace_hash
from runbook_lib.target.gitutil import git
from runbook_lib.target.interpreter import DEFAULT_VENV_PYTHON
from runbook_lib.target.manifest import MANIFEST_NAME, Manifest


@dataclass(frozen=True)
class TreeState:
    """A working tree's content hash and its ``git status --porcelain`` lines."""

    sha256: str
    status: tuple[str, ...]

    def difference(self, later: TreeState) -> str:
        """What changed from this state to ``later`` in one line (empty: byte-identical)."""
        if later == self:
            return ""
        changed = sorted(set(later.status) ^ set(self.status))
        if changed:
            shown = ", ".join(line.strip() for line in changed[:3])
            more = f" (+{len(changed) - 3} more)" if len(changed) > 3 else ""
            return f"git status differs: {shown}{more}"
        return f"content hash {self.sha256[:12]} became {later.sha256[:12]}"


def tree_state(root: Path) -> TreeState:
    """The state of the working tree at ``root`` (see the module docstring)."""
    status = git(root, ["status", "--porcelain", "--untracked-files=all"])
    return TreeState(workspace_hash(root), tuple(line for line in status.splitlines() if line))


@dataclass(frozen=True)
class Worktree:
    """The rehearsal copy: where it is and the commit it holds."""

    root: Path
    head: str


def _head(target: Path) -> str:
    head = git(target, ["rev-parse", "--verify", "--quiet", "HEAD"], check=False).strip()
    if not head:
        raise InvalidInputError(
            f"{target} has no commit to rehearse on",
            hint="readiness rehearses the rollbacks in a worktree of the target's HEAD",
        )
    return head


def _remove(target: Path, root: Path) -> None:
    git(target, ["worktree", "remove", "--force", str(root)], check=False)
    shutil.rmtree(root, ignore_errors=True)
    git(target, ["worktree", "prune"], check=False)


def _untracked_inputs(manifest: Manifest) -> list[str]:
    """What the rollbacks read or rewrite that git does not track: backups, models, packages."""
    paths = [manifest.backups.dir] if manifest.backups is not None else []
    if manifest.models is not None:
        parts = Path(manifest.models.glob).parts
        fixed = [part for part in parts[:-1] if not any(c in part for c in "*?[")]
        paths += [str(Path(*fixed))] if len(fixed) == len(parts) - 1 and fixed else []
    if manifest.package is not None:
        paths += [manifest.package.site_dir, manifest.package.wheelhouse]
    return paths


def _copy_untracked(manifest: Manifest, root: Path) -> None:
    """The target's untracked inputs, copied (never linked: a rollback may rewrite them)."""
    for relative in _untracked_inputs(manifest):
        source = manifest.resolve(relative)
        if not source.is_relative_to(manifest.root):
            continue
        copy = root / source.relative_to(manifest.root)
        if source.is_dir() and not copy.exists():
            shutil.copytree(source, copy, symlinks=True)


def _link_interpreter(manifest: Manifest, root: Path) -> None:
    """The target's venv (untracked, so not in a worktree), linked in: the copy runs in it too."""
    relative = Path(manifest.python or DEFAULT_VENV_PYTHON)
    top = relative.parts[0]
    if (manifest.root / relative).exists() and not os.path.lexists(root / top):
        (root / top).symlink_to(manifest.root / top, target_is_directory=True)


@contextlib.contextmanager
def rehearsal_worktree(manifest: Manifest) -> Iterator[Worktree]:
    """A detached worktree of the target's HEAD outside the target, removed on exit.

    The manifest is copied in when HEAD does not track it, so the copy is
    described as the target is, and so are the inputs git does not track (the
    ``[backups] dir``, the ``[models]`` directory, the ``[package]`` site and
    wheelhouse), so that restoring and reinstalling can be rehearsed; the
    target's interpreter (``[target] python`` or ``.venv``) is linked in, so the
    copy's code runs where the target's does.

    Raises:
        InvalidInputError: the target is not a git repository with a commit.
        WorkspaceError: git cannot add the worktree (git's own message).
    """
    target = manifest.root
    if not (target / ".git").exists():
        git(target, ["rev-parse", "--git-dir"])  # raises, naming the target, when not a repo
    head = _head(target)
    parent = Path(tempfile.mkdtemp(prefix="runbook-readiness-"))
    root = parent / target.name
    try:
        git(target, ["worktree", "add", "--detach", str(root), head])
        relative = (
            manifest.path.relative_to(target) if manifest.path.is_relative_to(target) else None
        )
        copied = root / (relative or Path(MANIFEST_NAME))
        if not copied.is_file():
            copied.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(manifest.path, copied)
        _copy_untracked(manifest, root)
        _link_interpreter(manifest, root)
        yield Worktree(root, head)
    finally:
        _remove(target, root)
        shutil.rmtree(parent, ignore_errors=True)
