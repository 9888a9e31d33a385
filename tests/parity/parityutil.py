"""Parity runs for the tests: one incident's run, its records without timings, a shared run."""

from __future__ import annotations

import dataclasses
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runbook_lib.incident.store import open_incident
from runbook_lib.parity.lockstep import EpisodeRecord
from runbook_lib.parity.run import ParityOutcome, run_incident_parity
from runbook_lib.sandbox.faults import set_faults
from runbook_lib.target.manifest import load_manifest

# Divergent runs make the records non-trivial: noise first (obs), then the bias (reward).
DIVERGENT_FAULTS: dict[str, float | int] = {
    "obs_noise": 0.02,
    "reward_bias": -0.5,
    "crash_at_step": 900,
}
DIVERGENT_SEEDS = (3, 1, 4, 5, 9)


def parity(root: Path, archive: Path, **kwargs: Any) -> ParityOutcome:
    incident = open_incident(archive, "parity test", "high", "result-difference")
    return run_incident_parity(load_manifest(root), archive, incident.id, **kwargs)


def timeless(records: list[EpisodeRecord]) -> list[dict[str, Any]]:
    """Records field by field, minus the timings (and the traceback's file paths)."""
    rows = []
    for item in records:
        row = dataclasses.asdict(item)
        row.pop("legacy_seconds")
        row.pop("candidate_seconds")
        if row["error"]:
            row["error"].pop("traceback")
        rows.append(row)
    return rows


def as_json(value: Any) -> Any:
    """``value`` as it reads back from JSON (tuples as lists), to compare with a saved run."""
    return json.loads(json.dumps(value))


def set_divergent_faults(root: Path) -> None:
    """The faults of :data:`DIVERGENT_FAULTS` in the workspace ``root``."""
    set_faults(root, **DIVERGENT_FAULTS)


@dataclass(frozen=True)
class PoolRun:
    """What a parity run on the process pool found, in JSON form (read-only)."""

    records: list[dict[str, Any]]
    first_divergence: dict[str, Any] | None
    crash: dict[str, Any] | None


@dataclass(frozen=True)
class CleanRun:
    """Parity of the healthy sandbox, its archive, and the target's hash before and after."""

    outcome: ParityOutcome
    archive: Path
    before: str
    after: str


def divergent_pool_run(sandbox: Path, home: Path) -> PoolRun:
    """The process pool's run (2 workers) of the divergent seeds, saved under ``home`` once.

    The caller holds a lock on ``home``: the first caller runs parity on its own
    copy of ``sandbox`` with the faults set, later ones read the saved result.
    """
    saved = home / "pool.json"
    if not saved.is_file():
        shutil.rmtree(home, ignore_errors=True)  # a run interrupted before its result
        shutil.copytree(sandbox, home / "ws", symlinks=True)
        set_divergent_faults(home / "ws")
        report = parity(home / "ws", home / "archive", seeds=DIVERGENT_SEEDS, workers=2).report
        fields = {
            "records": timeless(report.records),
            "first_divergence": report.first_divergence,
            "crash": report.crash,
        }
        partial = saved.with_suffix(".partial")
        partial.write_text(json.dumps(fields), encoding="utf-8")
        partial.replace(saved)
    return PoolRun(**json.loads(saved.read_text(encoding="utf-8")))
