"""A run's "started" record, and what became of runs that never finished.

A run writes ``runs/<NN>-<stem>.started.json`` (parameters digest, notebook
digest, who, when) before its kernel starts. A started record with no chain
record for its output is a run in progress while the incident's run lock is
held, and an interrupted (killed) run once it is not; the next writer records
it in the chain with status ``interrupted`` (:func:`record_interrupted`).
"""

import getpass
import json
import os
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

from runbook_lib.base.fsutil import atomic_write_text, sha256_bytes, sha256_file
from runbook_lib.base.oslock import held_elsewhere
from runbook_lib.evidence.chain import RunRecord, RunStatus, StartedRecord, append_run, read_chain
from runbook_lib.evidence.layout import RUN_LOCK, RUNS_DIR, STARTED_SUFFIX
from runbook_lib.incident.journal import Journal, JournalEvent


def parameters_digest(parameters: Mapping[str, Any]) -> str:
    """The sha256 of a run's parameters as canonical JSON."""
    return sha256_bytes(json.dumps(dict(parameters), sort_keys=True, default=str).encode())


def started_path(output: Path) -> Path:
    """Where the started record of the run writing ``output`` lives."""
    return output.with_name(output.stem + STARTED_SUFFIX)


def record_start(
    incident_dir: Path, output: Path, notebook: Path, parameters: Mapping[str, Any]
) -> StartedRecord:
    """Write the started record of a run (call it under the run lock, before the kernel starts)."""
    record = StartedRecord(
        incident=incident_dir.name,
        notebook=notebook.name,
        output=output.relative_to(incident_dir).as_posix(),
        notebook_sha256=sha256_file(notebook),
        parameters_sha256=parameters_digest(parameters),
        started_by=getpass.getuser(),
        started_at=datetime.now(UTC).isoformat(timespec="seconds"),
        pid=os.getpid(),
    )
    path = started_path(output)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(record, indent=2, sort_keys=True) + "\n")
    Journal.for_incident(incident_dir)(
        {
            "event": JournalEvent.RUN_STARTED,
            "notebook": notebook.name,
            "output": record["output"],
            "path": path.relative_to(incident_dir).as_posix(),
        }
    )
    return record


class OpenRun(NamedTuple):
    """A run that started and has no chain record yet."""

    seq: int
    record: StartedRecord
    path: str

    def describe(self) -> str:
        """``run N (notebook)``."""
        return f"run {self.seq} ({self.record['notebook']})"


def _read_started(path: Path) -> StartedRecord | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("output"), str) else None  # type: ignore[return-value]


def open_runs(incident_dir: Path, chain: Sequence[RunRecord] | None = None) -> list[OpenRun]:
    """Started runs with no chain record, numbered as the chain will number them."""
    records = list(chain if chain is not None else read_chain(incident_dir))
    finished = {record.get("output") for record in records}
    found: list[OpenRun] = []
    for path in sorted((incident_dir / RUNS_DIR).glob(f"*{STARTED_SUFFIX}")):
        started = _read_started(path)
        if started is not None and started["output"] not in finished:
            found.append(
                OpenRun(
                    len(records) + len(found) + 1,
                    started,
                    path.relative_to(incident_dir).as_posix(),
                )
            )
    return found


def run_in_progress(incident_dir: Path) -> bool:
    """Whether another process holds the incident's run lock (a run is writing)."""
    return held_elsewhere(incident_dir / RUN_LOCK)


def record_interrupted(incident_dir: Path) -> list[RunRecord]:
    """Record every open run as ``interrupted`` in the chain (call it under the run lock).

    Returns:
        The chain records written; index them like any run.
    """
    written: list[RunRecord] = []
    for run in open_runs(incident_dir):
        output = incident_dir / run.record["output"]
        record = {
            "incident": incident_dir.name,
            "notebook": run.record["notebook"],
            "output": run.record["output"],
            "output_sha256": sha256_file(output) if output.is_file() else None,
            "status": RunStatus.INTERRUPTED.value,
            "started_at": run.record["started_at"],
            "parameters_sha256": run.record["parameters_sha256"],
            "notebook_sha256": run.record["notebook_sha256"],
            "error": {
                "ename": "Interrupted",
                "evalue": "the run ended without recording how (killed or crashed)",
            },
        }
        full = append_run(incident_dir, record)
        Journal.for_incident(incident_dir)(
            {
                "event": JournalEvent.RUN_INTERRUPTED,
                "seq": full["seq"],
                "notebook": run.record["notebook"],
                "output": run.record["output"],
            }
        )
        written.append(full)  # type: ignore[arg-type]
    return written
