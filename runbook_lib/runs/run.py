"""Run a runbook notebook for an incident and keep the run as evidence.

:func:`run_notebook` checks everything it can before a kernel starts (the
manifest, the incident, the notebook and each parameter: known to the
notebook's ``parameters`` cell, of the declared type, not a credential), then,
under the incident's run lock (runs of one incident queue, runs of different
incidents proceed in parallel):

1. numbers the run (``runs/<NN>-<name>.ipynb``) and notes the target's git HEAD;
2. executes it with papermill in the incident directory, with the target's
   rollback variables (``.runbook/rollback.env``) in the environment the kernel
   inherits;
3. appends the run record to the hash chain, indexes it, journals it, and
   seals the incident again.

A failed run (error, dead kernel, timeout) still leaves its executed copy,
marked failed, and its chain record.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from runbook_lib.base.errors import InvalidInputError
from runbook_lib.base.fsutil import sha256_file
from runbook_lib.evidence import index
from runbook_lib.evidence.amend import (
    ACTIVE_RUN_ENV,
    close_interrupted,
    inside_run,
    reseal,
    run_lock,
    suspicious_changes,
)
from runbook_lib.evidence.chain import append_run, read_chain
from runbook_lib.evidence.environment import environment_facts
from runbook_lib.evidence.layout import RUNS_DIR
from runbook_lib.evidence.started import parameters_digest, record_start
from runbook_lib.incident.journal import Journal, JournalEvent
from runbook_lib.incident.model import Incident
from runbook_lib.incident.store import incident_dir, load_incident
from runbook_lib.runs.header import headed_copy, read_header
from runbook_lib.runs.kernels import KernelSupply
from runbook_lib.runs.parameters import (
    check_parameter_names,
)
from runbook_lib.runs.runner import (
    DEFAULT_CELL_TIMEOUT,
    DEFAULT_RUN_TIMEOUT,
    execute,
    next_run_path,
)
from runbook_lib.target.envfile import read_rollback_env
from runbook_lib.target.gitutil import git
from runbook_lib.target.manifest import load_manifest
from runbook_lib.target.secrets import screen_parameters

# A queued run waits for the one before it; runs take minutes, not hours.
RUN_LOCK_TIMEOUT_S = 4 * 3600.0


@dataclass(frozen=True)
class RunOutcome:
    """One archived notebook run: its record in the chain and where its files are."""

    incident: str
    seq: int
    notebook: str
    output: str
    html: str | None
    status: str
    error: dict[str, Any] | None
    parameters: dict[str, Any]
    started_at: str
    duration_s: float
    git_before: str | None
    git_after: str | None
    record_hash: str
    incident_dir: str
    suspicious: list[str] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every cell ran without error."""
        return self.status == "ok"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {**asdict(self), "ok": self.ok}


@contextlib.contextmanager
def _environment(overrides: Mapping[str, str]) -> Iterator[None]:
    """Set variables for the kernel (it inherits this process's environment), then restore."""
    saved = {name: os.environ.get(name) for name in overrides}
    os.environ.update(overrides)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _git_head(root: Path) -> str | None:
    return git(root, ["rev-parse", "--verify", "--quiet", "HEAD"], check=False).strip() or None


def kernel_environment(root: Path, archive: Path, incident: str) -> dict[str, str]:
    """What a run adds to the kernel's environment: the rollback variables and where it runs."""
    return {
        **read_rollback_env(root),
        ACTIVE_RUN_ENV: incident,
        "RUNBOOK_INCIDENT": incident,
        "RUNBOOK_ARCHIVE": str(archive.resolve()),
        "RUNBOOK_TARGET": str(root),
    }


def _index_incident(archive: Path, incident: Incident) -> None:
    row = {
        **incident.to_dict(),
        "opened_at": incident.opened_at.isoformat(),
        "updated_at": incident.history[-1].at.isoformat(),
    }
    index.upsert_incident(archive, row)


def _relative(path: str | None, base: Path) -> str | None:
    return Path(path).relative_to(base).as_posix() if path else None


def _kernel_ahead(kernels: KernelSupply | None, cwd: Path) -> dict[str, Any]:
    """This run's kernel from ``kernels`` (if it fits), and the next run's started now."""
    if kernels is None:
        return {}
    env = dict(os.environ)  # the run's, rollback variables included
    kernel = kernels.take(env, cwd)
    kernels.prepare(env, cwd)
    return {"kernel": kernel, "spared": kernels.pids}


def start_kernel_ahead(
    kernels: KernelSupply, notebook: Path, incident_id: str, *, archive: Path, target: Path
) -> None:
    """Start the kernel of a chain's first run of ``notebook`` now, in the background.

    It is started with the environment and working directory :func:`run_notebook`
    gives that run's kernel, so the run takes it (unless something changes them
    meanwhile); the caller does its other work while the kernel boots.
    """
    manifest = load_manifest(target)
    incident = load_incident(archive, incident_id)
    env = {**os.environ, **kernel_environment(manifest.root, archive, incident.id)}
    kernels.expect([notebook])
    kernels.prepare(env, incident_dir(archive, incident.id))


def run_notebook(
    notebook: Path,
    incident_id: str,
    *,
    archive: Path,
    target: Path,
    parameters: Mapping[str, Any] | None = None,
    cell_timeout: float = DEFAULT_CELL_TIMEOUT,
    run_timeout: float = DEFAULT_RUN_TIMEOUT,
    progress: bool = True,
    lock_timeout: float = RUN_LOCK_TIMEOUT_S,
    on_start: Callable[[Path], None] | None = None,
    kernels: KernelSupply | None = None,
) -> RunOutcome:
    """Execute ``notebook`` for an incident into its archive; see the module docstring.

    ``on_start`` is called with the output path once every check passed and
    the incident's lock is held, just before the kernel starts. ``kernels``
    (a chain of runs): use the kernel it started ahead when it fits, and start
    one for the next run while this one runs.

    Raises:
        InvalidInputError: a bad manifest, incident, notebook or parameter
            (nothing has run or changed then).
        LockHeldError: another run of this incident kept its lock for ``lock_timeout``.
    """
    params = dict(parameters or {})
    manifest = load_manifest(target)
    incident = load_incident(archive, incident_id)
    directory = incident_dir(archive, incident.id)
    check_parameter_names(notebook, params)
    screen_parameters(params, manifest.secrets)
    if cell_timeout <= 0 or run_timeout <= 0:
        raise InvalidInputError("timeouts must be positive numbers of seconds")
    if inside_run(directory):
        raise InvalidInputError(
            f"this notebook already runs for {incident.id}; it cannot start another run of it",
            hint="call the library functions the other notebook calls instead",
        )  # the run lock is held by our parent: waiting for it would never end
    with run_lock(directory, lock_timeout), ThreadPoolExecutor(1) as pool:
        close_interrupted(archive, directory)
        suspicious = suspicious_changes(archive, directory, strict=True)
        facts = pool.submit(environment_facts)  # ~1 s of imports, done meanwhile
        output = next_run_path(directory / RUNS_DIR, notebook)
        started = record_start(directory, output, notebook, params)
        if on_start is not None:
            on_start(output)
        git_before = _git_head(manifest.root)
        started_at = datetime.now(UTC).isoformat(timespec="seconds")
        began = time.perf_counter()
        secrets = {name: os.environ[name] for name in manifest.secrets if os.environ.get(name)}
        header = read_header(incident, manifest.root, started_at, params)
        with (
            _environment(kernel_environment(manifest.root, archive, incident.id)),
            headed_copy(notebook, header) as source,
        ):
            result = execute(
                source,
                output,
                params,
                cwd=directory,
                cell_timeout=cell_timeout,
                run_timeout=run_timeout,
                progress=progress,
                secrets=secrets,
                **_kernel_ahead(kernels, directory),
            )
        duration = round(time.perf_counter() - began, 3)
        git_after = _git_head(manifest.root)
        record = {
            "incident": incident.id,
            "notebook": notebook.name,
            "output": _relative(result.output, directory),
            "output_sha256": sha256_file(Path(result.output)),
            "html": _relative(result.html, directory),
            "html_sha256": sha256_file(Path(result.html)) if result.html else None,
            "status": result.status,
            "error": result.error,
            "parameters": params,
            "parameters_sha256": parameters_digest(params),
            "notebook_sha256": started["notebook_sha256"],
            "started_at": started_at,
            "duration_s": duration,
            "git_before": git_before,
            "git_after": git_after,
            "target": str(manifest.root),
            "findings": list(result.findings),
            "redactions": [dict(entry) for entry in result.redactions],
        }
        full = append_run(directory, record)
        index.add_run(archive, full)
        _index_incident(archive, load_incident(archive, incident.id))
        Journal.for_incident(directory)(
            {
                "event": JournalEvent.RUN,
                "seq": full["seq"],
                "notebook": notebook.name,
                "status": result.status,
                "output": record["output"],
            }
        )
        extra = {
            "parameters": params,
            "git_before": git_before,
            "git_after": git_after,
            "target": str(manifest.root),
            "last_run": full["seq"],
            "redactions": _redactions(directory),
        }
        reseal(archive, directory, extra, facts=facts.result(), suspicious=suspicious)
    return RunOutcome(
        incident=incident.id,
        seq=full["seq"],
        notebook=notebook.name,
        output=result.output,
        html=result.html,
        status=result.status,
        error=result.error,
        parameters=params,
        started_at=started_at,
        duration_s=duration,
        git_before=git_before,
        git_after=git_after,
        record_hash=full["hash"],
        incident_dir=str(directory),
        suspicious=suspicious,
        findings=list(result.findings),
    )


def _redactions(directory: Path) -> list[dict[str, Any]]:
    """Every run's salted digests of what its redaction removed, with the run's number."""
    return [
        {**entry, "run": record.get("seq")}
        for record in read_chain(directory)
        for entry in record.get("redactions") or []
    ]
