"""Parity for an incident: the manifest's envs side by side, the decision, the saved evidence.

:func:`run_incident_parity` is what ``runbook parity --incident ID`` runs: it
builds the legacy and the candidate env through the manifest's factory (with
explicit env types, so ``.runbook/rollback.env`` plays no part and is not
applied), runs them in lockstep (or replays a recorded baseline on the
candidate), derives seed 000's decision-tree inputs from the report, walks
the tree, and saves ``parity.json`` and the plots in the incident's directory.
:func:`record` is what ``runbook parity record`` runs: it saves a baseline.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from runbook_lib.base.errors import InvalidInputError
from runbook_lib.base.fsutil import atomic_write_text
from runbook_lib.base.progress import NO_PROGRESS, ItemProgress
from runbook_lib.decide.tree import Decision, decide
from runbook_lib.evidence.layout import PARITY_FILE, PLOTS_DIR
from runbook_lib.incident.store import incident_dir, load_incident
from runbook_lib.parity.algorithms import guard_decision, legacy_failures, smoke_train
from runbook_lib.parity.backends import Backend
from runbook_lib.parity.baseline import Baseline, load_baseline, record_baseline, replay_baseline
from runbook_lib.parity.decision import derive_assessment
from runbook_lib.parity.engine import ParityReport, build_report, run_parity
from runbook_lib.parity.inprocess import guarded
from runbook_lib.parity.inputs import (
    DEFAULT_POLICY,
    PolicyChoice,
    baseline_spec,
    choose_backend,
    choose_seeds,
    margins_for,
    spec_from_manifest,
    validate_workers,
)
from runbook_lib.parity.lockstep import EpisodeDone, EpisodeRecord, ParitySpec, episode_done
from runbook_lib.parity.refs import checked_out
from runbook_lib.parity.remote import describe, probe_envs, remote_envs
from runbook_lib.parity.verdict import space_differences
from runbook_lib.target.manifest import Manifest
from runbook_lib.target.worker.stash import WorkerStash


@dataclass(frozen=True)
class ParityOutcome:
    """A finished parity run for an incident: the report, the decision and the files."""

    incident_id: str
    report: ParityReport
    decision: Decision
    inputs: dict[str, Any]
    envs: dict[str, Any]
    baseline: str | None = None
    workers: int = 1
    files: dict[str, list[str]] = field(default_factory=dict)

    @property
    def suggested_episodes(self) -> int | None:
        """For an INCONCLUSIVE verdict, the episode count estimated to decide."""
        counts = [
            m.episodes_to_decide
            for m in self.report.metrics.values()
            if m.verdict == "INCONCLUSIVE" and m.episodes_to_decide
        ]
        return max(counts) if counts else None

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` object, also saved as ``parity.json``."""
        data = self.report.to_dict()
        data.update(
            {
                "incident": self.incident_id,
                "reference": "baseline" if self.baseline else "lockstep",
                "baseline": self.baseline,
                "workers": self.workers,
                "envs": self.envs,
                "decision_inputs": self.inputs,
                "decision": self.decision.to_dict(),
                "suggested_episodes": self.suggested_episodes,
                "files": self.files,
            }
        )
        if self.baseline:  # a recording holds no timings to compare with
            seconds = sum(r.candidate_seconds for r in self.report.records)
            data["throughput_regression_pct"] = data["throughput_ci_pct"] = None
            data["legacy_steps_per_s"] = None
            data["candidate_steps_per_s"] = self.report.steps / seconds if seconds else None
        return data


def _lockstep(
    spec: ParitySpec,
    manifest: Manifest,
    workers: int,
    backend: Backend,
    done: EpisodeDone,
    *,
    stash: WorkerStash,
) -> tuple[ParityReport, dict[str, Any]]:
    envs = probe_envs(spec, manifest.env.logger if manifest.env else None, stash)
    # The spaces are compared before any episode runs: a difference decides the verdict.
    spaces = space_differences(envs["legacy"], envs["candidate"])
    envs["space_differences"] = spaces
    report = guarded(
        "the lockstep run",
        run_parity,
        spec,
        workers=workers,
        margins=margins_for(manifest, spec),
        backend=backend,
        spaces=spaces,
        done=done,
        stash=stash,
    )
    envs["policy"] = {"kind": spec.policy, "model": spec.model_path, "algo": spec.model_algo}
    if spec.policy == "entry_point":
        envs["policy"] = {"kind": spec.policy, "entry_point": spec.policy_entry}
    trained = smoke_train(spec, manifest.parity.algorithms) if manifest.parity.algorithms else {}
    envs["algorithms"] = trained
    return report, envs


def _against_baseline(
    spec: ParitySpec,
    manifest: Manifest,
    baseline: Baseline,
    workers: int,
    done: EpisodeDone,
    *,
    stash: WorkerStash,
) -> tuple[ParityReport, dict[str, Any]]:
    meta = baseline.meta
    logger = manifest.env.logger if manifest.env else None
    with remote_envs(spec, (spec.candidate,), logger, stash=stash, prefix="probe-") as (env,):
        candidate = describe(env, spec.candidate)
    stash.close()  # the replay starts workers of its own
    envs = {
        "legacy": {
            "env_type": spec.legacy,
            "class": meta.get("env_class"),
            "recorded": str(baseline.path),
            "created_at": meta.get("created_at"),
        },
        "candidate": candidate,
    }
    records: list[EpisodeRecord] = guarded(
        "the baseline replay",
        replay_baseline,
        spec,
        baseline,
        workers=workers,
        count=len(spec.seeds),
        done=done,
    )
    return build_report(spec, records, margins=margins_for(manifest, spec)), envs


def run_incident_parity(
    manifest: Manifest,
    archive: Path,
    incident_id: str,
    *,
    episodes: int | None = None,
    seeds: Sequence[int] | None = None,
    workers: int = 1,
    policy: PolicyChoice = DEFAULT_POLICY,
    baseline: Path | None = None,
    config: Mapping[str, Any] | None = None,
    backend: str = "process",
    progress: ItemProgress = NO_PROGRESS,
) -> ParityOutcome:
    """Run parity for an incident, decide, and save ``parity.json`` and the plots.

    Without ``baseline`` the legacy and the candidate env run in lockstep for
    ``seeds`` (default ``0 .. episodes-1``,
    :data:`~runbook_lib.parity.inputs.DEFAULT_EPISODES` episodes).
    With ``baseline``, the candidate replays that recording's actions for its
    first ``episodes`` episodes (all by default); its seeds and actions are
    the recording's. ``backend`` ``ray`` runs the lockstep episodes as Ray
    tasks, on the manifest's ``[parity] ray_address`` or a local instance
    whose files go under ``<archive>/ray``. ``progress`` is told as each
    episode is done (in this process, whichever backend runs them).

    Raises:
        InvalidInputError: no such incident, or an input is not acceptable
            (nothing runs and nothing is written then).
        WorkspaceError: the target's factory or legacy env fails.
    """
    load_incident(archive, incident_id)
    workers = validate_workers(workers)
    where = choose_backend(backend, manifest, archive, baseline)
    recorded = load_baseline(baseline) if baseline is not None else None
    # The worker that proves the interpreter describes the envs and runs the episodes.
    stash = WorkerStash()
    with contextlib.closing(stash):
        if recorded is None:
            spec = spec_from_manifest(
                manifest, choose_seeds(episodes, seeds), policy=policy, config=config, stash=stash
            )
        else:
            spec = baseline_spec(manifest, recorded, episodes, seeds, policy, stash=stash)
        done = episode_done(progress, len(spec.seeds))
        # Every env runs in a worker of the target's interpreter: nothing is imported here.
        with checked_out(manifest, spec) as (spec, refs), contextlib.closing(stash):
            if recorded is None:
                report, envs = _lockstep(spec, manifest, workers, where, done, stash=stash)
            else:
                report, envs = _against_baseline(
                    spec, manifest, recorded, workers, done, stash=stash
                )
    envs["refs"] = {ref.role: ref.to_dict() for ref in refs}
    facts, inputs = derive_assessment(report, timed=recorded is None)
    decision = guard_decision(decide(facts), legacy_failures(envs.get("algorithms") or {}))
    outcome = ParityOutcome(
        incident_id,
        report,
        decision,
        inputs,
        envs,
        str(baseline) if baseline else None,
        workers,
    )
    return save_outcome(outcome, incident_dir(archive, incident_id))


def _save_plots(report: ParityReport, directory: Path, *, timed: bool) -> dict[str, list[Path]]:
    from runbook_lib.parity import plots

    # A baseline holds no timings: no throughput plot then.
    skip = frozenset() if timed else frozenset({"throughput"})
    return plots.save_all(report, directory, skip=skip)


def save_outcome(outcome: ParityOutcome, directory: Path) -> ParityOutcome:
    """Write the plots into ``directory/parity/`` and ``parity.json``; return it with the files."""
    plots = _save_plots(outcome.report, directory / PLOTS_DIR, timed=outcome.baseline is None)
    files = {name: [str(path) for path in paths] for name, paths in plots.items()}
    files[PARITY_FILE] = [str(directory / PARITY_FILE)]
    outcome = replace(outcome, files=files)
    text = json.dumps(outcome.to_dict(), indent=2, sort_keys=True, default=str) + "\n"
    atomic_write_text(directory / PARITY_FILE, text)
    return outcome


def record(
    manifest: Manifest,
    out: Path,
    *,
    seeds: Sequence[int],
    env_type: str = "legacy",
    workers: int = 1,
    policy: PolicyChoice = DEFAULT_POLICY,
    config: Mapping[str, Any] | None = None,
    force: bool = False,
    progress: ItemProgress = NO_PROGRESS,
) -> dict[str, Any]:
    """Record ``env_type``'s trajectories for ``seeds`` into the baseline file ``out``.

    ``progress`` is told as each episode is recorded.

    Raises:
        InvalidInputError: ``out`` exists (without ``force``) or its directory
            does not, or an input is not acceptable.
        WorkspaceError: the factory or the env fails.
    """
    if out.exists() and not force:
        raise InvalidInputError(f"{out} exists", hint="choose another --out, or pass --force")
    if not out.parent.is_dir():
        raise InvalidInputError(f"directory {out.parent} does not exist", hint="create it first")
    stash = WorkerStash()  # the worker that proves the interpreter describes the env
    with contextlib.closing(stash):
        spec = spec_from_manifest(
            manifest, seeds, policy=policy, config=config, legacy=env_type, stash=stash
        )
        workers = validate_workers(workers)
        with checked_out(manifest, spec) as (spec, refs):
            with contextlib.closing(stash), remote_envs(spec, (env_type,), stash=stash) as (env,):
                meta: dict[str, Any] = {"env_class": describe(env, env_type)["class"]}
                meta["target"] = manifest.name
            meta["refs"] = {ref.role: ref.to_dict() for ref in refs}
            saved: dict[str, Any] = guarded(
                "the recording",
                record_baseline,
                spec,
                out,
                workers=workers,
                meta=meta,
                progress=progress,
            )
    return saved
