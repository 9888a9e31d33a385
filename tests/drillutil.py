"""The shape of a drill shared between tests (the ``executed_drill`` fixture in conftest)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from runbook_lib.app.drill import DrillReport


@dataclass(frozen=True)
class ExecutedDrill:
    """A drill that ran to its end: the archive it wrote and its report. Read-only."""

    archive: Path
    report: DrillReport


DrillRunner = Callable[..., ExecutedDrill]
