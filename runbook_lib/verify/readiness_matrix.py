"""The rollback-readiness matrix: strategy x (plan, apply, effect, tests, undo), kept as evidence.

One :class:`StrategyRow` per strategy the manifest declares, one :class:`Cell`
per phase with its status and, when it did not pass, the reason. The matrix is
recorded as ``readiness/<NN>-readiness.json`` in an incident (indexed, journaled
and sealed like every other record) and read back by :func:`latest_readiness`
for the report.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from runbook_lib.base.fsutil import atomic_write_text
from runbook_lib.evidence.amend import amending
from runbook_lib.evidence.layout import READINESS_DIR
from runbook_lib.evidence.records import next_numbered, record_checks
from runbook_lib.incident.journal import Journal, JournalEvent


class Phase(StrEnum):
    """The columns of the matrix, in the order a rehearsal goes through them."""

    PLAN = "plan"
    APPLY = "apply"
    EFFECT = "effect"
    TESTS = "tests"
    UNDO = "undo"


class CellStatus(StrEnum):
    """How one phase of one strategy went."""

    PASS = "pass"
    FAIL = "fail"
    NOT_RUN = "not run"


class Readiness(StrEnum):
    """A strategy's verdict."""

    READY = "ready"
    NOT_READY = "not ready"
    NOT_REHEARSED = "not rehearsed"


@dataclass(frozen=True)
class Cell:
    """One phase of one strategy: its status and, unless it passed, why."""

    status: CellStatus
    reason: str = ""

    def to_dict(self) -> dict[str, str]:
        """JSON-ready form."""
        return {"status": str(self.status), "reason": self.reason}


@dataclass
class StrategyRow:
    """One strategy's rehearsal; phases not reached stay ``not run``."""

    strategy: str
    cells: dict[Phase, Cell] = field(default_factory=dict)
    rehearsed: bool = True
    note: str = ""

    def cell(self, phase: Phase) -> Cell:
        """The phase's cell (``not run`` when it was never reached)."""
        return self.cells.get(phase, Cell(CellStatus.NOT_RUN))

    @property
    def readiness(self) -> Readiness:
        """Ready when every phase passed; not rehearsed when the rehearsal cannot run it."""
        if not self.rehearsed:
            return Readiness.NOT_REHEARSED
        ok = all(self.cell(phase).status == CellStatus.PASS for phase in Phase)
        return Readiness.READY if ok else Readiness.NOT_READY

    @property
    def reason(self) -> str:
        """The first failing phase and its reason (or the note of a strategy not rehearsed)."""
        for phase in Phase:
            cell = self.cell(phase)
            if cell.status == CellStatus.FAIL:
                return f"{phase}: {cell.reason}"
        return self.note

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "strategy": self.strategy,
            "readiness": str(self.readiness),
            "reason": self.reason,
            "cells": {str(phase): self.cell(phase).to_dict() for phase in Phase},
        }


@dataclass
class ReadinessReport:
    """A whole rehearsal: the target, the commit rehearsed on, the matrix, the trees' hashes."""

    target: str
    head: str
    incident: str
    rows: list[StrategyRow] = field(default_factory=list)
    not_declared: dict[str, str] = field(default_factory=dict)
    target_tree: dict[str, str] = field(default_factory=dict)
    rehearsed_at: str = ""

    @property
    def ready(self) -> bool:
        """No declared strategy that was rehearsed is not ready."""
        return all(row.readiness != Readiness.NOT_READY for row in self.rows)

    @property
    def not_ready(self) -> list[StrategyRow]:
        """The rows whose rehearsal failed."""
        return [row for row in self.rows if row.readiness == Readiness.NOT_READY]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (what the archive keeps)."""
        return {
            "target": self.target,
            "head": self.head,
            "incident": self.incident,
            "rehearsed_at": self.rehearsed_at,
            "ready": self.ready,
            "phases": [str(phase) for phase in Phase],
            "strategies": [row.to_dict() for row in self.rows],
            "not_declared": dict(self.not_declared),
            "target_tree": dict(self.target_tree),
        }


_MARK = {"pass": "ok", "fail": "FAIL", "not run": "-"}


def render_text(data: Mapping[str, Any]) -> str:
    """The matrix as aligned text, each failing cell's reason below it (from ``to_dict``)."""
    phases = [str(p) for p in data["phases"]]
    rows = list(data["strategies"])
    width = max([len("strategy"), *(len(row["strategy"]) for row in rows)])
    head = f"{'strategy':<{width}}  " + "  ".join(f"{p:<6}" for p in phases) + "  verdict"
    lines = [f"rollback readiness of {data['target']} at {str(data['head'])[:12]}", head]
    for row in rows:
        marks = [_MARK.get(row["cells"][p]["status"], "?") for p in phases]
        lines.append(
            f"{row['strategy']:<{width}}  "
            + "  ".join(f"{m:<6}" for m in marks)
            + f"  {row['readiness']}"
        )
        for phase in phases:
            cell = row["cells"][phase]
            if cell["status"] == "fail":
                lines.append(f"{'':<{width}}    {phase}: {cell['reason']}")
    skipped: dict[str, list[str]] = {}
    for row in rows:
        if row["readiness"] == "not rehearsed":
            skipped.setdefault(row["reason"], []).append(row["strategy"])
    lines += [f"not rehearsed: {', '.join(names)}: {why}" for why, names in skipped.items()]
    for name, why in dict(data.get("not_declared") or {}).items():
        lines.append(f"not declared: {name} ({why})")
    tree = dict(data.get("target_tree") or {})
    if tree:
        same = "unchanged" if tree.get("before") == tree.get("after") else "CHANGED"
        lines.append(f"target's working tree {same}: {str(tree.get('after', ''))[:12]}")
    lines.append(f"recorded in incident {data['incident']}")
    return "\n".join(lines)


def record_readiness(archive: Path, incident_dir: Path, data: Mapping[str, Any]) -> Path:
    """Keep the matrix as ``readiness/<NN>-readiness.json``, one check per strategy, and reseal."""
    checks = [
        {
            "name": f"readiness.{row['strategy']}",
            "status": {"ready": "pass", "not ready": "fail"}.get(row["readiness"], "skip"),
            "summary": row["reason"] or str(row["readiness"]),
            "blocking": row["readiness"] == "not ready",
            "evidence": {"cells": row["cells"]},
        }
        for row in data["strategies"]
    ]
    with amending(archive, incident_dir):
        directory = incident_dir / READINESS_DIR
        directory.mkdir(parents=True, exist_ok=True)
        path = next_numbered(directory, "readiness", ".json")
        atomic_write_text(path, json.dumps(dict(data), indent=2, sort_keys=True) + "\n")
        ready = sum(row["readiness"] == "ready" for row in data["strategies"])
        Journal.for_incident(incident_dir)(
            {
                "event": JournalEvent.READINESS,
                "path": path.relative_to(incident_dir).as_posix(),
                "summary": f"{ready} of {len(data['strategies'])} strategies ready",
            }
        )
    record_checks(archive, incident_dir, "readiness", checks)
    return path


def latest_readiness(incident_dir: Path) -> dict[str, Any] | None:
    """The latest readiness matrix recorded in the incident (None: none is)."""
    found = sorted((incident_dir / READINESS_DIR).glob("[0-9][0-9]-readiness.json"))
    if not found:
        return None
    try:
        data = json.loads(found[-1].read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
