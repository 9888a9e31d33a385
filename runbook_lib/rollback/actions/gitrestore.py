"""Restore paths from the stable ref: seed 003's ``git checkout <stable> -- src/rl/sac/``.

``git checkout REF -- PATH`` rewrites the files REF has, but leaves behind files
that exist only in the working tree (seed 003's "incomplete rollback" risk: the
release's ``sac_features.py`` would survive). The plan lists those files and the
step removes them; their contents stay in the incident's blob store, so undo
puts them back.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any, ClassVar

from runbook_lib.base import crashpoints
from runbook_lib.base.errors import InvalidInputError, WorkspaceError
from runbook_lib.base.fsutil import atomic_write_bytes, iter_files
from runbook_lib.rollback.actions.base import Action, Context, file_change
from runbook_lib.rollback.actions.files import apply_changes, state_of
from runbook_lib.rollback.actions.model import FileChange, Step
from runbook_lib.target.gitutil import git, ref_exists

# Bytecode caches are rebuilt by Python on the next import; listing them would
# make every plan stale as soon as any code runs.
_DERIVED_DIRS = frozenset({"__pycache__", ".pytest_cache"})


def _normalize(path: str) -> str:
    posix = PurePosixPath(path)
    if posix.is_absolute() or ".." in posix.parts or not posix.parts:
        raise InvalidInputError(f"restore path {path!r} must be relative, without '..'")
    return posix.as_posix()


def _blobs_at(root: Path, commit: str, paths: list[str]) -> dict[str, bytes]:
    listing = git(root, ["ls-tree", "-r", "-z", "--full-tree", commit, "--", *paths])
    entries = [entry for entry in listing.split("\0") if entry]
    contents: dict[str, bytes] = {}
    for entry in entries:
        meta, name = entry.split("\t", 1)
        _, kind, blob = meta.split()
        if kind != "blob":
            continue
        proc = subprocess.run(
            ["git", "-C", str(root), "cat-file", "blob", blob], capture_output=True, check=True
        )
        contents[name] = proc.stdout
    return contents


def _files_under(root: Path, paths: list[str]) -> list[str]:
    found: list[str] = []
    for path in paths:
        full = root / path
        if full.is_file():
            found.append(path)
        elif full.is_dir():
            found += [
                p.relative_to(root).as_posix() for p in iter_files(full, skip_dirs=_DERIVED_DIRS)
            ]
    return sorted(set(found))


class GitRestoreAction(Action):
    """Bring ``paths`` to their content at ``ref`` and remove what ``ref`` lacks."""

    name: ClassVar[str] = "git-restore"

    def __init__(self, ref: str, paths: tuple[str, ...]) -> None:
        """Restore ``paths`` (relative to the root) as they are at git ``ref``."""
        self.ref = ref
        self.paths = paths

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> GitRestoreAction:
        """Rebuild from a step's params; apply uses the commit resolved at plan time."""
        return cls(ref=str(params["ref"]), paths=tuple(params["paths"]))

    def params(self) -> dict[str, Any]:
        """What :meth:`from_params` needs; the commit is resolved at plan time."""
        return {"ref": self.ref, "paths": list(self.paths)}

    def plan(self, root: Path) -> Step:
        """List every file the restore writes or removes, with both contents."""
        if not ref_exists(root, self.ref):
            tags = " ".join(git(root, ["tag", "--list"]).split()) or "none"
            raise InvalidInputError(
                f"stable ref {self.ref!r} does not exist in {root}",
                hint=f"tags there: {tags}; fix git.stable_ref in runbook.toml",
            )
        commit = git(root, ["rev-parse", f"{self.ref}^{{commit}}"]).strip()
        paths = [_normalize(p) for p in self.paths]
        stable = _blobs_at(root, commit, paths)
        blobs: dict[str, bytes] = {}
        changes: list[FileChange] = []
        for relative, content in sorted(stable.items()):
            change = file_change(root, relative, content, f"restore from {self.ref}", blobs)
            if change:
                changes.append(change)
        for relative in _files_under(root, paths):
            if relative not in stable:
                summary = f"absent at {self.ref}: git checkout would leave it behind"
                change = file_change(root, relative, None, summary, blobs)
                if change:
                    changes.append(change)
        joined = " ".join(paths)
        commands = (f"git checkout {commit[:12]} -- {joined}",)
        removals = tuple(f"rm {c.path}" for c in changes if c.after is None)
        return Step(
            action=self.name,
            title=f"restore {joined} from {self.ref} ({commit[:12]})",
            changes=tuple(changes),
            commands=commands + removals,
            params={"ref": self.ref, "commit": commit, "paths": paths},
            blobs=blobs,
        )

    def run(self, step: Step, ctx: Context) -> None:
        """Nothing after the files: :meth:`apply` does the checkout itself."""
        return None

    def apply(self, step: Step, ctx: Context) -> None:
        """Save local changes as a patch, ``git checkout``, then remove leftovers."""
        paths = list(step.params["paths"])
        local = git(ctx.root, ["diff", "--binary", "HEAD", "--", *paths])
        if local:
            name = f"local-changes-{step.params['commit'][:12]}.patch"
            patch = ctx.incident_dir / "patches" / name
            patch.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(patch, local.encode("utf-8"))
        for change in step.changes:
            if change.before is not None and state_of(ctx.root, change) == "before":
                ctx.store.put((ctx.root / change.path).read_bytes())
        crashpoints.reach("git checkout")
        existing = [p for p in paths if _has_paths_at(ctx.root, step.params["commit"], p)]
        if existing:
            git(ctx.root, ["checkout", step.params["commit"], "--", *existing])
        # Files git did not touch (leftovers to remove) and a check that what
        # git wrote is exactly what the plan promised.
        apply_changes(ctx.root, step.changes, ctx.store)

    def undo(self, step: Step, ctx: Context) -> None:
        """Put every file back and reset the index entries that checkout staged."""
        super().undo(step, ctx)
        crashpoints.reach("git reset")
        git(ctx.root, ["reset", "-q", "--", *step.params["paths"]], check=False)

    def verify_state(self, step: Step, ctx: Context) -> list[str]:
        """No file under the paths differs from the stable commit."""
        paths = list(step.params["paths"])
        commit = step.params["commit"]
        diff = git(ctx.root, ["diff", "--name-only", commit, "--", *paths])
        # One listing of the stable tree, not one git process per file.
        listing = git(ctx.root, ["ls-tree", "-r", "-z", "--name-only", commit, "--", *paths])
        stable = set(listing.split("\0"))
        extra = [p for p in _files_under(ctx.root, paths) if p not in stable]
        problems = [f"differs from {self.ref}: {name}" for name in diff.split()]
        return problems + [f"not at {self.ref}: {name}" for name in extra]


def _has_paths_at(root: Path, commit: str, path: str) -> bool:
    try:
        return bool(git(root, ["ls-tree", "-r", "--name-only", commit, "--", path]).strip())
    except WorkspaceError:
        return False
