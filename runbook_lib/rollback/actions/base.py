"""The rollback action interface (a template method, as SB3's callbacks are).

An action computes a :class:`~runbook_lib.rollback.actions.model.Step` in :meth:`plan`
without touching the target. :meth:`apply`, :meth:`verify` and :meth:`undo` are
rebuilt from the step alone (``registry.action_for``), so a plan saved yesterday
applies the same way today and ``resume`` needs nothing but the journal.
Subclasses that only change files implement :meth:`plan` and
:meth:`verify_state`; those that run commands also override :meth:`run` and
:meth:`unrun`.
"""

from abc import ABC, abstractmethod
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, ClassVar, NamedTuple

from runbook_lib.base.fsutil import sha256_bytes
from runbook_lib.base.report import CheckResult, Status, timed
from runbook_lib.rollback.actions.files import (
    BlobStore,
    apply_changes,
    progress,
    read_current,
    revert_changes,
)
from runbook_lib.rollback.actions.model import FileChange, Step


class Context(NamedTuple):
    """Where an action runs: the target, the incident's files and the interpreter."""

    root: Path
    incident_dir: Path
    store: BlobStore
    python: str
    env: Mapping[str, str] = MappingProxyType({})


class Action(ABC):
    """One rollback action; see the module docstring.

    An action is what its :meth:`params` say: two actions of one type with
    the same parameters are equal, and that is what ``repr`` shows.
    """

    name: ClassVar[str]

    def __repr__(self) -> str:
        """The action's type and parameters."""
        return f"{type(self).__name__}({self.params()!r})"

    def __eq__(self, other: object) -> bool:
        """Same type, same parameters."""
        return (
            type(other) is type(self)
            and isinstance(other, Action)
            and other.params() == self.params()
        )

    __hash__ = None  # type: ignore[assignment]  # equal by parameters, which are mutable

    @classmethod
    @abstractmethod
    def from_params(cls, params: Mapping[str, Any]) -> "Action":
        """Rebuild the action from a step's ``params``."""

    @abstractmethod
    def params(self) -> dict[str, Any]:
        """The JSON-ready parameters :meth:`from_params` rebuilds the action from."""

    @abstractmethod
    def plan(self, root: Path) -> Step:
        """Compute the exact changes; touch nothing."""

    def apply(self, step: Step, ctx: Context) -> None:
        """Make the step's changes (idempotent: a finished part is skipped)."""
        apply_changes(ctx.root, step.changes, ctx.store)
        self.run(step, ctx)

    def undo(self, step: Step, ctx: Context) -> None:
        """Revert the step's changes in reverse order."""
        self.unrun(step, ctx)
        revert_changes(ctx.root, step.changes, ctx.store)

    def run(self, step: Step, ctx: Context) -> None:
        """Run the step's commands after its files are written (none by default)."""
        return None

    def unrun(self, step: Step, ctx: Context) -> None:
        """Revert what :meth:`run` did, before the files are put back (none by default)."""
        return None

    def verify(self, step: Step, ctx: Context) -> CheckResult:
        """Check that the step's effect holds now."""
        with timed() as elapsed:
            counts = progress(ctx.root, step.changes)
            problems = [] if counts["after"] == len(step.changes) else [f"files: {counts}"]
            problems += self.verify_state(step, ctx)
        status: Status = "fail" if problems else "pass"
        summary = "; ".join(problems) if problems else f"{step.title}: in effect"
        return CheckResult(
            name=f"{step.action}.verify",
            status=status,
            summary=summary,
            evidence={"files": counts, "problems": problems},
            duration_s=elapsed(),
        )

    def verify_state(self, step: Step, ctx: Context) -> list[str]:
        """Action-specific problems with the applied state (none by default)."""
        return []

    def is_applied(self, step: Step, ctx: Context) -> bool:
        """Whether every file of the step is in its after state (used by resume)."""
        return progress(ctx.root, step.changes)["after"] == len(step.changes)


def file_change(
    root: Path, relative: str, new: bytes | None, summary: str, blobs: dict[str, bytes]
) -> FileChange | None:
    """Describe writing ``new`` (``None``: removing) at ``relative``; ``None`` if a no-op.

    Both the current and the new content are added to ``blobs`` so that the
    plan alone can restore either state.
    """
    old = read_current(root, relative)  # refuses a link out of the target, at plan time
    if old == new:
        return None
    before = after = None
    if old is not None:
        before = sha256_bytes(old)
        blobs[before] = old
    if new is not None:
        after = sha256_bytes(new)
        blobs[after] = new
    return FileChange(path=relative, before=before, after=after, summary=summary)
