"""A parity side at a git ref: checked out in a temporary worktree for the run.

``[parity.legacy] ref = "v1.0"`` runs that side's worker in a detached
worktree of the target at ``v1.0``, made in a temporary directory outside the
target and removed (and pruned) afterwards, even when the run fails. The
target's own tree and index are never touched.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from runbook_lib.base.errors import InvalidInputError
from runbook_lib.parity.lockstep import ParitySpec
from runbook_lib.target.gitutil import git
from runbook_lib.target.manifest import Manifest


@dataclass(frozen=True)
class CheckedOutRef:
    """A side's ref and the commit it resolved to (recorded in the evidence)."""

    role: str
    ref: str
    commit: str

    def to_dict(self) -> dict[str, str]:
        """JSON-ready form."""
        return {"ref": self.ref, "commit": self.commit}


def resolve_ref(root: Path, ref: str) -> str:
    """The full commit ``ref`` names in the target's repository.

    Raises:
        InvalidInputError: ``root`` is not in a git repository, or ``ref``
            names no commit there (one line naming it).
    """
    found = git(root, ["rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], check=False)
    if not found.strip():
        raise InvalidInputError(
            f"[parity] ref {ref!r} names no commit in {root}",
            hint="a tag, branch or commit of the target's repository: 'git tag' lists tags",
        )
    return found.strip()


def side_refs(manifest: Manifest) -> dict[str, tuple[str, str]]:
    """``role -> (ref, commit)`` for every side with a ``ref``, each resolved.

    Raises:
        InvalidInputError: a ref names no commit.
    """
    sides = {"legacy": manifest.parity.legacy, "candidate": manifest.parity.candidate}
    return {
        role: (side.ref, resolve_ref(manifest.root, side.ref))
        for role, side in sides.items()
        if side.ref is not None
    }


@contextmanager
def _worktree(root: Path, commit: str) -> Iterator[Path]:
    """A detached worktree of ``root``'s repository at ``commit``, removed afterwards."""
    top = Path(git(root, ["rev-parse", "--show-toplevel"]).strip())
    prefix = git(root, ["rev-parse", "--show-prefix"]).strip()
    holder = Path(tempfile.mkdtemp(prefix="runbook-ref-"))
    tree = holder / "tree"
    try:
        git(top, ["worktree", "add", "--detach", str(tree), commit], isolated=True)
        yield tree / prefix if prefix else tree
    finally:
        git(top, ["worktree", "remove", "--force", str(tree)], check=False, isolated=True)
        shutil.rmtree(holder, ignore_errors=True)
        git(top, ["worktree", "prune"], check=False, isolated=True)


@contextmanager
def checked_out(
    manifest: Manifest, spec: ParitySpec
) -> Iterator[tuple[ParitySpec, list[CheckedOutRef]]]:
    """``spec`` with each side that names a ref running in a worktree at that ref.

    Raises:
        InvalidInputError: a ref names no commit (before anything is checked out).
    """
    refs = side_refs(manifest)
    with ExitStack() as stack:
        roots = {
            role: str(stack.enter_context(_worktree(manifest.root, commit)))
            for role, (_, commit) in refs.items()
        }
        found = [CheckedOutRef(role, ref, commit) for role, (ref, commit) in refs.items()]
        moved = replace(
            spec,
            legacy_root=roots.get("legacy", spec.legacy_root),
            candidate_root=roots.get("candidate", spec.candidate_root),
        )
        yield moved, found
