"""The handle of one incident of one target: what the library's operations take.

Operations on an incident need three things: the target it is about, the
archive that holds its evidence and its ID. Passed as three positional
arguments they are easy to swap (two of them are paths); an
:class:`IncidentRef` names each one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class IncidentRef:
    """One incident: the target it is about, the archive holding it, and its ID.

    Attributes:
        target: The target's root (or its ``runbook.toml``).
        archive: The evidence archive the incident lives in.
        id: The incident's ID (``INC-YYYYMMDD-HHMM-xxxx``).
    """

    target: Path
    archive: Path
    id: str

    def __str__(self) -> str:
        return f"{self.id} ({self.target}, archive {self.archive})"
