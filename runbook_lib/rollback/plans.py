"""Save and load rollback plans in an incident directory.

``plans/<sha256>.json`` holds the plan's canonical bytes, so its file name is
its own checksum; the contents every step needs (before and after) go to the
incident's blob store, and ``plans/latest`` names the newest plan.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from runbook_lib.base.durable import DurableGroup
from runbook_lib.base.errors import InvalidInputError, WorkspaceError
from runbook_lib.base.fsutil import sha256_bytes
from runbook_lib.evidence.layout import BLOBS_DIR, PLANS_DIR
from runbook_lib.rollback.actions.files import BlobStore
from runbook_lib.rollback.actions.model import Plan, Step

_SHA = re.compile(r"^[0-9a-f]{7,64}$")


def blob_store(incident_dir: Path) -> BlobStore:
    """The incident's content-addressed store of file contents."""
    return BlobStore(incident_dir / BLOBS_DIR)


def save_plan(plan: Plan, incident_dir: Path) -> Path:
    """Write every step's blobs, the plan and ``plans/latest``; return the plan file's path.

    One :class:`DurableGroup`: all are flushed to disk side by side, then renamed
    in that order (a blob before the plan that needs it, the plan before the
    name that points to it), each directory flushed once.
    """
    store = blob_store(incident_dir)
    plans = incident_dir / PLANS_DIR
    plans.mkdir(parents=True, exist_ok=True)
    path = plans / f"{plan.sha256}.json"
    with DurableGroup() as group:
        for step in plan.steps:
            for data in step.blobs.values():
                store.put_into(group, data)
        group.add(path, plan.canonical_bytes())
        group.add(plans / "latest", f"{plan.sha256}\n".encode())
    return path


def _resolve_sha(plans: Path, prefix: str) -> Path:
    if not _SHA.match(prefix):
        raise InvalidInputError(
            f"plan hash {prefix!r} is not a hex sha256 (or a prefix of 7+ characters)",
            hint="copy it from the output of 'runbook rollback plan'",
        )
    saved = sorted(plans.glob("*.json")) if plans.is_dir() else []
    matches = [path for path in saved if path.stem.startswith(prefix)]
    if len(matches) != 1:
        known = ", ".join(path.stem[:12] for path in saved)
        problem = "matches no plan" if not matches else "is ambiguous"
        raise InvalidInputError(
            f"plan hash {prefix!r} {problem} in {plans}",
            hint=f"plans of this incident: {known or 'none; run runbook rollback plan first'}",
        )
    return matches[0]


def load_plan(incident_dir: Path, sha: str | None = None, *, with_blobs: bool = True) -> Plan:
    """Load a saved plan by (a prefix of) its hash, or the latest one.

    With ``with_blobs`` (for applying or undoing) every content the plan needs
    is read and checked first, so a missing blob stops it before any change;
    callers that only read the plan's metadata pass False.

    Raises:
        InvalidInputError: no such plan.
        WorkspaceError: the plan file no longer matches its hash (it was edited).
    """
    plans = incident_dir / PLANS_DIR
    if sha is None:
        latest = plans / "latest"
        if not latest.is_file():
            raise InvalidInputError(
                f"incident {incident_dir.name} has no plan", hint="run 'runbook rollback plan'"
            )
        sha = latest.read_text(encoding="utf-8").strip()
    path = _resolve_sha(plans, sha)
    data = path.read_bytes()
    if sha256_bytes(data) != path.stem:
        raise WorkspaceError(f"plan {path} was modified after it was saved (hash mismatch)")
    plan = Plan.from_dict(json.loads(data))
    if not with_blobs:
        return plan
    store = blob_store(incident_dir)
    steps = tuple(_with_blobs(step, store) for step in plan.steps)
    return Plan(plan.incident, plan.strategy, plan.target, plan.created_at, steps)


def _with_blobs(step: Step, store: BlobStore) -> Step:
    blobs = {
        digest: store.get(digest)
        for change in step.changes
        for digest in (change.before, change.after)
        if digest is not None
    }
    return Step(step.action, step.title, step.changes, step.commands, step.params, blobs)
