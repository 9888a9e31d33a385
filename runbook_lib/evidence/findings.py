"""What a verification found, and which files of an incident its recorded writers account for."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum
from pathlib import Path
from typing import Any

from runbook_lib.base.errors import WorkspaceError
from runbook_lib.base.records import plain
from runbook_lib.evidence.layout import (
    BLOBS_DIR,
    CHAIN,
    CHECKS_DIR,
    COMMS_DIR,
    DECISION_FILE,
    DECISIONS_DIR,
    INCIDENT_FILE,
    JOURNAL_FILE,
    PARITY_FILE,
    PLANS_DIR,
    PLOTS_DIR,
    RUNS_DIR,
)
from runbook_lib.evidence.started import OpenRun, open_runs
from runbook_lib.incident.journal import read_journal

UNSIGNED = "unsigned: cannot prove"


class Verdict(StrEnum):
    """What verifying an incident concluded."""

    OK = "ok"
    UNSIGNED = UNSIGNED
    FAILED = "failed"


class VerifyReport:
    """What :func:`verify_incident` found; each check adds its problems and notes as it runs.

    A plain class, not a dataclass: the seal is on the path of ``runbook
    rollback now``, which imports no :mod:`dataclasses` (see
    :mod:`runbook_lib.base.records`), and this report is filled in place.
    """

    _FIELDS = ("incident", "problems", "files_checked", "runs_checked", "notes")
    __slots__ = ("files_checked", "incident", "notes", "problems", "runs_checked")

    def __init__(
        self,
        incident: str,
        problems: list[str] | None = None,
        files_checked: int = 0,
        runs_checked: int = 0,
        notes: list[str] | None = None,
    ) -> None:
        """A report on ``incident``; ``problems`` and ``notes`` start empty unless given."""
        self.incident = incident
        self.problems: list[str] = [] if problems is None else problems
        self.files_checked = files_checked
        self.runs_checked = runs_checked
        self.notes: list[str] = [] if notes is None else notes

    def __repr__(self) -> str:
        """The report's fields, as a dataclass would show them."""
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._FIELDS)
        return f"VerifyReport({fields})"

    @property
    def ok(self) -> bool:
        """True when nothing is wrong (an unsigned incident too: see :attr:`verdict`)."""
        return not self.problems

    @property
    def unsigned(self) -> bool:
        """True when no signature proves the seal (its hashes alone cannot prove who sealed it)."""
        return any(note.startswith(UNSIGNED) for note in self.notes)

    @property
    def verdict(self) -> Verdict:
        """What a reader is told: failed, unsigned (cannot prove) or ok."""
        if self.problems:
            return Verdict.FAILED
        return Verdict.UNSIGNED if self.unsigned else Verdict.OK

    def line(self, where: str = "") -> str:
        """The one-line summary of the CLI: never "ok" for an unsigned incident."""
        counts = f"{self.files_checked} files, {self.runs_checked} runs"
        notes = "".join(f"; {n}" for n in self.notes if not n.startswith(UNSIGNED))
        if self.verdict is Verdict.UNSIGNED:
            return (
                f"{UNSIGNED} {self.incident}{where}  {counts} match the seal, no signature{notes}"
            )
        head = "ok  " if self.verdict is Verdict.OK else "FAIL"
        return f"{head}  {self.incident}{where}  {counts}{notes}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: ``ok`` only when signed and clean; ``consistent`` when clean."""
        return {
            **{name: plain(getattr(self, name)) for name in self._FIELDS},
            "ok": self.verdict is Verdict.OK,
            "consistent": self.ok,
            "verdict": str(self.verdict),
        }


# Written by the runbook's own commands, which journal or chain what they write.
_KNOWN_FILES = frozenset(
    {INCIDENT_FILE, JOURNAL_FILE, DECISION_FILE, PARITY_FILE, CHAIN.as_posix()}
)


_APPEND_FILES = frozenset({INCIDENT_FILE, JOURNAL_FILE, CHAIN.as_posix()})


_KNOWN_DIRS = tuple(
    f"{name}/" for name in (PLANS_DIR, BLOBS_DIR, COMMS_DIR, DECISIONS_DIR, CHECKS_DIR, PLOTS_DIR)
)


def _journal_paths(incident_dir: Path) -> set[str]:
    """Every file a journal record names (``path``, ``output``, ``files``)."""
    try:
        records = read_journal(incident_dir / JOURNAL_FILE).records
    except WorkspaceError:
        return set()
    named: set[str] = set()
    for record in records:
        named.update(str(record[key]) for key in ("path", "output") if record.get(key))
        files = record.get("files")
        if isinstance(files, list):
            named.update(str(name) for name in files)
    return named


def _run_stems(chain: Iterable[Mapping[str, Any]], runs: Iterable[OpenRun]) -> set[str]:
    """``runs/NN-stem`` of every run the chain or a started record accounts for."""
    outputs = [record.get("output") for record in chain] + [run.record["output"] for run in runs]
    return {name.rsplit(".", 1)[0] for name in outputs if isinstance(name, str)}


def recorded_by_a_writer(
    name: str, stems: set[str], named: set[str], *, strict: bool = False
) -> bool:
    """Whether a file of the incident was written by one of the runbook's recorded writers.

    ``strict`` is the check a writer makes before it writes: every writer seals
    what it writes, so a file added since the last seal in a directory the
    runbook writes to (``checks/``, ``decisions/``...) that no journal record
    names was written by none of them, and is an unrecorded file.
    """
    if name in named or name in _APPEND_FILES:
        return True
    if not strict and (name in _KNOWN_FILES or name.startswith(_KNOWN_DIRS)):
        return True
    if name.startswith(f"{RUNS_DIR}/"):
        base = name.split(".", 1)[0]
        return base in stems
    return False


# What a writing run changes before it reseals: not failures while it writes.
_GROWTH = (
    "added: ",
    "unrecorded file: ",
    "interrupted run ",
    f"modified: {JOURNAL_FILE}",
    f"modified: {INCIDENT_FILE}",
    f"modified: {CHAIN.as_posix()}",
    "chain: the last run",
    "index: run ",
    f"modified: {PARITY_FILE}",
)


def _in_progress(incident_dir: Path, report: VerifyReport) -> VerifyReport:
    """The report of an incident a run is writing: its growth is noted, not failed."""
    runs = open_runs(incident_dir)
    names = ", ".join(run.describe() for run in runs) or "a run"
    report.notes.append(
        f"{names.replace('run ', 'run ', 1)} in progress; its files are checked at its seal"
    )
    report.problems = [p for p in report.problems if not p.startswith(_GROWTH)]
    return report
