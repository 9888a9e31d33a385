"""Run an action through plan, apply, verify and undo, checking the workspace hash."""

from __future__ import annotations

import sys
from pathlib import Path

from runbook_lib.base.fsutil import tree_hash
from runbook_lib.rollback.actions.base import Action, Context
from runbook_lib.rollback.actions.files import BlobStore
from runbook_lib.rollback.actions.model import Step
from runbook_lib.rollback.actions.registry import action_for


def make_context(root: Path, incident_dir: Path) -> Context:
    return Context(
        root=root,
        incident_dir=incident_dir,
        store=BlobStore(incident_dir / "blobs"),
        python=sys.executable,
    )


def save_blobs(step: Step, ctx: Context) -> None:
    for data in step.blobs.values():
        ctx.store.put(data)


def full_cycle(action: Action, root: Path, incident_dir: Path) -> Step:
    """Plan (touching nothing), apply, verify, undo; the tree hash must come back."""
    ctx = make_context(root, incident_dir)
    before = tree_hash(root)
    step = action.plan(root)
    assert tree_hash(root) == before, "plan() changed the workspace"
    assert step.changes, "nothing to change: the test would prove nothing"
    save_blobs(step, ctx)
    rebuilt = action_for(Step.from_dict(step.to_dict()))
    rebuilt.apply(step, ctx)
    assert tree_hash(root) != before
    result = rebuilt.verify(step, ctx)
    assert result.status == "pass", result.summary
    rebuilt.apply(step, ctx)  # idempotent
    rebuilt.undo(step, ctx)
    assert tree_hash(root) == before, "undo did not restore the workspace"
    assert rebuilt.verify(step, ctx).status == "fail"
    return step
