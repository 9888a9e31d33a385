"""What the rollbacks of an incident changed in the target, as the report shows it.

A rollback writes the target's working tree and commits nothing, so the git
commit before and after a run is often the same. The evidence that tells what
changed is the rollback engine's own: each applied plan lists every file with
its sha256 before and after, and the incident's blob store holds both
contents (the ``before`` one is saved just before the file is overwritten, so
it is the working tree as it was, uncommitted changes included).

:func:`applied_changes` reads the journal for every plan that was applied
(and whether it was undone since), and :func:`file_diff` renders one file's
change as a unified diff for text, or sizes and hashes for binary content.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from runbook_lib.base.errors import RunbookError
from runbook_lib.rollback.actions.files import BlobStore
from runbook_lib.rollback.actions.model import FileChange, Step
from runbook_lib.rollback.plans import blob_store, load_plan

# A diff longer than this is cut (the full contents stay in the bundle's blobs/).
MAX_DIFF_LINES = 400


@dataclass(frozen=True)
class FileDiff:
    """One file a rollback wrote or removed: its hashes, sizes and diff."""

    path: str
    kind: str
    before: str | None
    after: str | None
    before_size: int | None
    after_size: int | None
    diff: tuple[str, ...] = ()
    note: str = ""

    def size_text(self) -> str:
        """``12 B -> 40 B``, with ``absent`` for a side that has no file."""

        def size(value: int | None, digest: str | None) -> str:
            if digest is None:
                return "absent"
            return "?" if value is None else f"{value} B"

        return f"{size(self.before_size, self.before)} → {size(self.after_size, self.after)}"


@dataclass(frozen=True)
class AppliedStep:
    """One step of an applied plan: its title, commands and files."""

    title: str
    action: str
    commands: tuple[str, ...]
    files: tuple[FileDiff, ...]


@dataclass(frozen=True)
class AppliedChange:
    """One plan that was applied, with where it stands now."""

    plan: str
    strategy: str
    applied_at: str
    undone_at: str | None
    steps: tuple[AppliedStep, ...] = field(default_factory=tuple)
    problem: str = ""

    @property
    def in_effect(self) -> bool:
        """Whether the plan is still applied (not undone since)."""
        return self.undone_at is None


def _content(store: BlobStore, digest: str | None) -> bytes | None:
    if digest is None:
        return b""
    try:
        return store.get(digest)
    except RunbookError:
        return None


def _text(data: bytes) -> str | None:
    if b"\0" in data:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def file_diff(change: FileChange, store: BlobStore) -> FileDiff:
    """One file's change: a unified diff when both sides are text, else sizes and hashes."""
    before, after = _content(store, change.before), _content(store, change.after)
    before_size = None if before is None or change.before is None else len(before)
    after_size = None if after is None or change.after is None else len(after)
    base = FileDiff(change.path, change.kind, change.before, change.after, before_size, after_size)
    if before is None or after is None:
        return replace(base, note="content not kept in the evidence: hashes only")
    old, new = _text(before), _text(after)
    if old is None or new is None:
        return replace(base, note="binary content: sizes and hashes only")
    lines = list(
        difflib.unified_diff(
            old.splitlines(),
            new.splitlines(),
            fromfile=f"a/{change.path}" if change.before else "/dev/null",
            tofile=f"b/{change.path}" if change.after else "/dev/null",
            lineterm="",
        )
    )
    if not lines:
        return replace(base, note="same text (only the file's bytes differ)")
    if len(lines) > MAX_DIFF_LINES:
        cut = len(lines) - MAX_DIFF_LINES
        return replace(
            base, diff=tuple(lines[:MAX_DIFF_LINES]), note=f"{cut} more diff lines not shown"
        )
    return replace(base, diff=tuple(lines))


def _step(step: Step, store: BlobStore) -> AppliedStep:
    files = tuple(file_diff(change, store) for change in step.changes)
    return AppliedStep(step.title, step.action, step.commands, files)


def _applies(journal: list[dict[str, Any]]) -> list[tuple[str, str, str | None]]:
    """(plan, applied at, undone at) of every completed apply, in order."""
    found: list[list[Any]] = []
    for record in journal:
        if record.get("event") != "end":
            continue
        plan, at = str(record.get("plan", "")), str(record.get("at", ""))
        if record.get("operation") == "apply":
            found = [entry for entry in found if entry[0] != plan or entry[2] is not None]
            found.append([plan, at, None])
        elif record.get("operation") == "undo":
            for entry in found:
                if entry[0] == plan and entry[2] is None:
                    entry[2] = at
    return [(str(p), str(a), u) for p, a, u in found]


def applied_changes(incident_dir: Path, journal: list[dict[str, Any]]) -> list[AppliedChange]:
    """Every plan the journal shows applied, with each file's diff; undone ones say when."""
    store = blob_store(incident_dir)
    changes = []
    for sha, applied_at, undone_at in _applies(journal):
        try:
            plan = load_plan(incident_dir, sha, with_blobs=False)
        except RunbookError as err:
            changes.append(
                AppliedChange(sha, "unknown", applied_at, undone_at, problem=err.message)
            )
            continue
        steps = tuple(_step(step, store) for step in plan.steps)
        changes.append(AppliedChange(sha, plan.strategy, applied_at, undone_at, steps))
    return changes
