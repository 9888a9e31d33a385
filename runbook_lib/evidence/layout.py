"""The names of an incident folder's files: the one place that defines them.

An incident folder (``<archive>/incidents/<ID>/``) holds::

    incident.json        the record (:mod:`runbook_lib.incident.store` names it)
    journal.jsonl        every step, appended (:mod:`runbook_lib.incident.journal` names it)
    decision.json        the assessment's latest decision
    parity.json          the latest parity report (its plots in parity/)
    manifest.json        the seal: every file's sha256 (:mod:`.seal`)
    seal.proof.json      the seal's signed in-toto statement (when a key is set) and its
                         RFC 6962 inclusion proof in the log, in one file (:mod:`.sealproof`)
    runs/chain.jsonl     the hash chain of notebook runs (:mod:`.chain`)
    runs/NN-*.started.json  a run's "started" record, written before its kernel starts
    runs/ plans/ blobs/ comms/ decisions/ checks/   records written once
    readiness/NN-readiness.json                     rollback-readiness matrices, written once
    archive.lock, run.lock                          coordination, not evidence

Those two are named in :mod:`runbook_lib.incident`, below this package (the
layers only import downwards); the rest are named here.
"""

from __future__ import annotations

from pathlib import Path

from runbook_lib.incident.journal import JOURNAL_FILE
from runbook_lib.incident.store import INCIDENT_FILE

__all__ = ["INCIDENT_FILE", "JOURNAL_FILE"]  # re-exported: callers take every name from here

INCIDENTS_DIR = "incidents"
MANIFEST = "manifest.json"
SEAL_PROOF = "seal.proof.json"
# The earlier layout kept the signature and the proof in two files of their own:
# verify names them (:func:`.sealproof.earlier_layout`), a seal deletes them.
EARLIER_ENVELOPE = "seal.dsse.json"
EARLIER_INCLUSION = "seal.inclusion.json"
EARLIER_SEAL_FILES = (EARLIER_ENVELOPE, EARLIER_INCLUSION)
# Outside the inventory: the seal cannot list itself, nor the signature over it,
# nor its proof in the log (written once the seal is logged).
SEAL_FILES = (MANIFEST, SEAL_PROOF, *EARLIER_SEAL_FILES)
STARTED_SUFFIX = ".started.json"
RUNS_DIR = "runs"
CHAIN = Path(RUNS_DIR) / "chain.jsonl"
PLANS_DIR = "plans"
BLOBS_DIR = "blobs"
COMMS_DIR = "comms"
DECISIONS_DIR = "decisions"
CHECKS_DIR = "checks"
READINESS_DIR = "readiness"
DECISION_FILE = "decision.json"
PARITY_FILE = "parity.json"
PLOTS_DIR = "parity"
ARCHIVE_LOCK = "archive.lock"
RUN_LOCK = "run.lock"
# Lock files are coordination, not evidence; they change on every run.
IGNORED_SUFFIXES = (".lock",)
# Files that grow by appended lines only; directories whose files are written
# once (by the runbook itself) and never changed. Other files (a notebook's
# working files, parity.json) may be rewritten between seals.
APPEND_ONLY = (JOURNAL_FILE, CHAIN.as_posix())
WRITE_ONCE = tuple(
    f"{name}/"
    for name in (
        RUNS_DIR,
        PLANS_DIR,
        BLOBS_DIR,
        COMMS_DIR,
        DECISIONS_DIR,
        CHECKS_DIR,
        READINESS_DIR,
    )
)
REWRITABLE = (f"{PLANS_DIR}/latest",)
