"""The data of a rollback plan: steps made of exact file changes and commands.

A plan is computed without touching the target. Every file a step will write
or remove is listed with the sha256 of its content before and after, so that
``apply`` can refuse a stale plan, ``undo`` can put each file back, and
``resume`` can tell, file by file, how far an interrupted step got.
"""

import json
from collections.abc import Mapping
from functools import cached_property
from types import MappingProxyType
from typing import Any, NamedTuple, Self

from runbook_lib.base.fsutil import sha256_bytes
from runbook_lib.base.records import plain

PLAN_FORMAT = 1


class FileChange(NamedTuple):
    """One file a step writes or removes, relative to the target root.

    ``before`` / ``after`` are sha256 hex digests; ``None`` means "absent".
    """

    path: str
    before: str | None
    after: str | None
    summary: str

    @property
    def kind(self) -> str:
        """``create``, ``modify`` or ``remove``."""
        if self.before is None:
            return "create"
        return "remove" if self.after is None else "modify"


class Step(NamedTuple):
    """One action's part of a plan.

    Attributes:
        action: The action's registered name (for example ``config-flag``).
        title: What the step does, for people.
        changes: Files written or removed, with their hashes.
        commands: External commands the step runs, as an operator would type them.
        params: What the action needs to apply, verify and undo the step.
        blobs: Contents by sha256 for every ``after`` hash; saved with the plan,
            never serialized into the plan file itself, nor shown by ``repr``
            (they hold the target's files, which may hold secrets).
    """

    action: str
    title: str
    changes: tuple[FileChange, ...] = ()
    commands: tuple[str, ...] = ()
    params: Mapping[str, Any] = MappingProxyType({})
    blobs: Mapping[str, bytes] = MappingProxyType({})

    def __repr__(self) -> str:
        """The step without its blobs' contents."""
        fields = ", ".join(
            f"{name}={getattr(self, name)!r}" for name in self._fields if name != "blobs"
        )
        return f"Step({fields}, blobs=<{len(self.blobs)}>)"

    def to_dict(self) -> dict[str, Any]:
        """The step without its blobs."""
        data: dict[str, Any] = plain(self)
        del data["blobs"]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        """Rebuild a step saved by :meth:`to_dict` (blobs are loaded separately)."""
        changes = tuple(FileChange(**change) for change in data.get("changes", ()))
        return cls(
            action=data["action"],
            title=data["title"],
            changes=changes,
            commands=tuple(data.get("commands", ())),
            params=dict(data.get("params", {})),
        )


class _PlanFields(NamedTuple):
    incident: str
    strategy: str
    target: str
    created_at: str
    steps: tuple[Step, ...]


class Plan(_PlanFields):
    """An ordered list of steps for one strategy on one target.

    A subclass of its fields' record, so that it has a ``__dict__`` for
    :attr:`sha256` to be computed once per plan.
    """

    def to_dict(self) -> dict[str, Any]:
        """The plan as JSON-ready data (no blobs)."""
        return {
            "format": PLAN_FORMAT,
            "incident": self.incident,
            "strategy": self.strategy,
            "target": self.target,
            "created_at": self.created_at,
            "steps": [step.to_dict() for step in self.steps],
        }

    def canonical_bytes(self) -> bytes:
        """The exact bytes of the plan file; their sha256 names the plan."""
        return (json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n").encode("utf-8")

    @cached_property
    def sha256(self) -> str:
        """The plan's identity: apply must be given this hash.

        Computed once per plan object (a plan is frozen and nothing edits its
        steps in place): ``rollback now`` names its plan a dozen times.
        """
        return sha256_bytes(self.canonical_bytes())

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        """Rebuild a plan saved by :meth:`to_dict`."""
        return cls(
            incident=data["incident"],
            strategy=data["strategy"],
            target=data["target"],
            created_at=data["created_at"],
            steps=tuple(Step.from_dict(step) for step in data["steps"]),
        )

    def describe(self) -> str:
        """The plan as text an operator reviews before applying it."""
        lines = [f"plan {self.sha256}", f"strategy {self.strategy} on {self.target}"]
        for number, step in enumerate(self.steps, 1):
            lines.append(f"{number}. [{step.action}] {step.title}")
            for change in step.changes:
                lines.append(f"     {change.kind:<6} {change.path}  {change.summary}")
                hashes = f"{_short(change.before)} -> {_short(change.after)}"
                lines.append(f"            sha256 {hashes}")
            for command in step.commands:
                lines.append(f"     $ {command}")
        return "\n".join(lines)


def _short(digest: str | None) -> str:
    """A file hash as the plan shows it: 12 hex digits, or "absent"."""
    return digest[:12] if digest else "absent"
