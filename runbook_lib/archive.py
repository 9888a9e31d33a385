"""The tamper-evident evidence archive of an incident.

* ``runs/chain.jsonl``: one record per notebook run; each carries the sha256 of
  the previous record, so editing, removing or reordering a run breaks a link.
* ``manifest.json``: every file of the incident with its sha256 and size, plus
  the environment (versions, ``pip freeze``, SB3 system info, user and host).
  Its own sha256 is anchored in the archive's SQLite index (``seals``), outside
  the incident directory.

:func:`verify_incident` recomputes all of it and names every modified, missing
or added file, every broken link, and any declared secret's value found in a file.
"""

from __future__ import annotations

import getpass
import json
import os
import platform
import socket
import sys
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from filelock import FileLock

from runbook_lib import index
from runbook_lib.fsutil import atomic_write_bytes, iter_files, sha256_bytes, sha256_file

MANIFEST = "manifest.json"
CHAIN = Path("runs") / "chain.jsonl"
GENESIS = "0" * 64
# Lock files are coordination, not evidence; they change on every run.
_IGNORED_SUFFIXES = (".lock",)
_VERSIONED = ("python", "runbook", "papermill", "nbclient", "nbformat", "gymnasium",
              "stable-baselines3", "torch", "numpy")  # fmt: skip


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def canonical(record: Mapping[str, Any]) -> bytes:
    """The bytes a record's hash covers: sorted-key JSON without the ``hash`` field."""
    body = {key: value for key, value in record.items() if key != "hash"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), default=str).encode()


def read_chain(incident_dir: Path) -> list[dict[str, Any]]:
    """The run records of an incident, in order."""
    path = incident_dir / CHAIN
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def _lock(incident_dir: Path) -> FileLock:
    return FileLock(str(incident_dir / "archive.lock"), timeout=120)


def append_run(incident_dir: Path, record: Mapping[str, Any]) -> dict[str, Any]:
    """Append a run record linked to the previous one (adds ``seq``, ``prev``, ``hash``)."""
    with _lock(incident_dir):
        chain = read_chain(incident_dir)
        full = {**record, "seq": len(chain) + 1, "prev": chain[-1]["hash"] if chain else GENESIS}
        full["hash"] = sha256_bytes(canonical(full))
        path = incident_dir / CHAIN
        path.parent.mkdir(parents=True, exist_ok=True)
        existing = path.read_bytes() if path.is_file() else b""
        atomic_write_bytes(path, existing + json.dumps(full, sort_keys=True).encode() + b"\n")
        return full


def verify_chain(records: Iterable[Mapping[str, Any]]) -> list[str]:
    """Every broken link of a chain, as sentences naming the run."""
    problems: list[str] = []
    previous = GENESIS
    for position, record in enumerate(records, 1):
        name = f"run {record.get('seq', '?')} ({record.get('notebook', '?')})"
        if record.get("seq") != position:
            problems.append(f"chain: {name} is at position {position}")
        if record.get("prev") != previous:
            problems.append(f"chain: {name} does not link to the run before it")
        if sha256_bytes(canonical(record)) != record.get("hash"):
            problems.append(f"chain: {name} was edited (its hash no longer matches)")
        previous = str(record.get("hash"))
    return problems


def inventory(incident_dir: Path) -> dict[str, dict[str, Any]]:
    """Every evidence file of the incident with its sha256 and size."""
    files: dict[str, dict[str, Any]] = {}
    for path in iter_files(incident_dir):
        relative = path.relative_to(incident_dir).as_posix()
        if relative == MANIFEST or path.name.endswith(_IGNORED_SUFFIXES):
            continue
        files[relative] = {"sha256": sha256_file(path), "size": path.stat().st_size}
    return files


def _version(name: str) -> str | None:
    if name == "python":
        return platform.python_version()
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def environment_facts(*, with_system_info: bool = True) -> dict[str, Any]:
    """Versions, ``pip freeze`` (from installed metadata), user, host and SB3's system info."""
    freeze = sorted(f"{d.metadata['Name']}=={d.version}" for d in metadata.distributions()
                    if d.metadata["Name"])  # fmt: skip
    facts: dict[str, Any] = {
        "versions": {name: _version(name) for name in _VERSIONED},
        "pip_freeze": freeze,
        "user": getpass.getuser(),
        "host": socket.gethostname(),
        "platform": platform.platform(),
        "executable": sys.executable,
    }
    if with_system_info:
        try:
            from stable_baselines3.common.utils import get_system_info

            facts["sb3_system_info"] = get_system_info(print_info=False)[0]
        except ImportError:
            facts["sb3_system_info"] = None
    return facts


def seal(archive: Path, incident_dir: Path, extra: Mapping[str, Any] | None = None,
         *, facts: Mapping[str, Any] | None = None) -> dict[str, Any]:  # fmt: skip
    """Write ``manifest.json`` for the incident and anchor its hash in the index."""
    with _lock(incident_dir):
        manifest = {
            "incident": incident_dir.name,
            "sealed_at": _now(),
            "files": inventory(incident_dir),
            "chain_head": (read_chain(incident_dir) or [{"hash": GENESIS}])[-1]["hash"],
            "environment": dict(facts) if facts is not None else environment_facts(),
            **(dict(extra) if extra else {}),
        }
        data = (json.dumps(manifest, indent=2, sort_keys=True, default=str) + "\n").encode()
        atomic_write_bytes(incident_dir / MANIFEST, data)
        index.record_seal(archive, incident_dir.name, sha256_bytes(data), manifest["sealed_at"],
                          len(manifest["files"]))  # fmt: skip
    return manifest


@dataclass
class VerifyReport:
    """What :func:`verify_incident` found."""

    incident: str
    problems: list[str] = field(default_factory=list)
    files_checked: int = 0
    runs_checked: int = 0

    @property
    def ok(self) -> bool:
        """True when nothing is wrong."""
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {**asdict(self), "ok": self.ok}


def _secret_hits(incident_dir: Path, secrets: Mapping[str, str]) -> list[str]:
    hits: list[str] = []
    needles = {name: value.encode() for name, value in secrets.items() if len(value) >= 6}
    for path in iter_files(incident_dir):
        data = path.read_bytes()
        for name, needle in needles.items():
            if needle in data:
                hits.append(f"secret: the value of ${name} appears in "
                            f"{path.relative_to(incident_dir).as_posix()}")  # fmt: skip
    return hits


def verify_incident(archive: Path, incident_dir: Path,
                    secret_names: Iterable[str] = ()) -> VerifyReport:  # fmt: skip
    """Recompute every hash of an incident and compare it with its seal."""
    report = VerifyReport(incident=incident_dir.name)
    path = incident_dir / MANIFEST
    if not path.is_file():
        report.problems.append(f"missing: {MANIFEST} (the incident was never sealed)")
        return report
    data = path.read_bytes()
    seals = index.query(archive, "SELECT manifest_sha256 FROM seals WHERE incident = ?",
                        (incident_dir.name,))  # fmt: skip
    if not seals:
        report.problems.append(f"seal: no seal of {incident_dir.name} in the index")
    elif seals[0]["manifest_sha256"] != sha256_bytes(data):
        report.problems.append(f"modified: {MANIFEST} (its hash differs from the sealed one)")
    recorded: dict[str, dict[str, Any]] = json.loads(data)["files"]
    actual = inventory(incident_dir)
    report.files_checked = len(actual)
    for name in sorted(recorded.keys() - actual.keys()):
        report.problems.append(f"missing: {name}")
    for name in sorted(actual.keys() - recorded.keys()):
        report.problems.append(f"added: {name}")
    for name in sorted(recorded.keys() & actual.keys()):
        if recorded[name]["sha256"] != actual[name]["sha256"]:
            report.problems.append(f"modified: {name}")
    chain = read_chain(incident_dir)
    report.runs_checked = len(chain)
    report.problems += verify_chain(chain)
    head = chain[-1]["hash"] if chain else GENESIS
    if json.loads(data).get("chain_head") != head:
        report.problems.append("chain: the last run does not match the sealed chain head")
    secrets = {name: os.environ[name] for name in secret_names if os.environ.get(name)}
    report.problems += _secret_hits(incident_dir, secrets)
    return report
