"""Append a dated entry to the target's differences document (seed 000 §2, §3.3).

When the decision tree says "document" (a difference within tolerance, an
intentional one, or a regression under 20%), the evidence goes to
``docs/rl_differences.md``: the entry is appended after the ``## Entries``
section's marker, newest last. As an :class:`Action` the change is planned
with both file contents in the blob store, journaled when applied and
undoable like any rollback step.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from runbook_lib.base.errors import InvalidInputError
from runbook_lib.rollback.actions.base import Action, Context, file_change
from runbook_lib.rollback.actions.model import Step

DEFAULT_DOC = "docs/rl_differences.md"
ENTRIES_HEADING = "## Entries"
MARKER = "<!-- New entries are appended below this line. -->"


def append_entry(text: str, entry: str) -> str:
    """``text`` with ``entry`` appended as the newest entry (unchanged if it is there already).

    A document without the entries section gets one, with its marker, at the end.
    """
    body = entry.strip("\n")
    if body in text:
        return text
    if MARKER not in text:
        has_heading = any(line.strip() == ENTRIES_HEADING for line in text.splitlines())
        section = "" if has_heading else f"\n\n{ENTRIES_HEADING}\n"
        text = text.rstrip("\n") + f"{section}\n{MARKER}\n"
    return text.rstrip("\n") + "\n\n" + body + "\n"


class DifferencesEntryAction(Action):
    """Append one rendered entry to the differences document."""

    name: ClassVar[str] = "differences-entry"

    def __init__(self, file: str, entry: str) -> None:
        """Append ``entry`` to ``file`` (relative to the root)."""
        self.file = file
        self.entry = entry

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> DifferencesEntryAction:
        """Rebuild from a step's params."""
        return cls(file=str(params["file"]), entry=str(params["entry"]))

    def params(self) -> dict[str, Any]:
        """What :meth:`from_params` needs."""
        return {"file": self.file, "entry": self.entry}

    def plan(self, root: Path) -> Step:
        """Plan the document with the entry appended; touch nothing.

        Raises:
            InvalidInputError: the document does not exist in the target.
        """
        path = root / self.file
        if not path.is_file():
            raise InvalidInputError(
                f"differences document {path} does not exist",
                hint=f"create it (with an '{ENTRIES_HEADING}' section) or pass its path",
            )
        new = append_entry(path.read_text(encoding="utf-8"), self.entry)
        blobs: dict[str, bytes] = {}
        first_line = self.entry.strip().splitlines()[0].lstrip("# ")
        change = file_change(root, self.file, new.encode("utf-8"), first_line, blobs)
        title = f"document the difference in {self.file}"
        if change is None:
            return Step(
                action=self.name, title=f"{title} (already documented)", params=self.params()
            )
        return Step(
            action=self.name, title=title, changes=(change,), params=self.params(), blobs=blobs
        )

    def verify_state(self, step: Step, ctx: Context) -> list[str]:
        """The document holds the entry."""
        path = ctx.root / self.file
        text = path.read_text(encoding="utf-8") if path.is_file() else ""
        return [] if self.entry.strip("\n") in text else [f"{self.file} lacks the entry"]
