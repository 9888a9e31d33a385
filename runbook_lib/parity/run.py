"""Parity for an incident: the manifest's envs side by side, the decision, the saved evidence.

:func:`run_incident_parity` is what ``runbook parity --incident ID`` runs: it
builds the legacy and the candidate env through the manifest's factory (with
explicit env types, so ``.runbook/rollback.env`` plays no part and is not
applied), runs them in lockstep (or replays a recorded baseline on the
candidate), derives seed 000's decision-tree inputs from the report, walks
the tree, and saves ``parity.json`` and the plots in the incident's directory.

The target's modules are imported in this process (and in forked workers): a
run first forgets any module of the factory's top-level package, so a second
run on another workspace, or after a rollback edited the source, imports the
files as they are now; no bytecode is written into the target.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from runbook_lib.base.errors import InvalidInputError, RunbookError, WorkspaceError
from runbook_lib.base.fsutil import atomic_write_text
from runbook_lib.decide.tree import Assessment, Decision, decide
from runbook_lib.evidence.layout import PARITY_FILE, PLOTS_DIR
from runbook_lib.incident.store import incident_dir, load_incident
from runbook_lib.parity.baseline import Baseline, load_baseline, record_baseline, replay_baseline
from runbook_lib.parity.engine import ParityReport, build_report, run_parity
from runbook_lib.parity.lockstep import BACKENDS, Backend, EpisodeRecord, ParitySpec
from runbook_lib.parity.stats import MetricComparison
from runbook_lib.target.entrypoint import load_entry_point, parse_entry_point
from runbook_lib.target.manifest import Manifest
from runbook_lib.target.probes.envprobe import captured_log

DEFAULT_EPISODES = 20
MAX_EPISODES = 100_000
MAX_WORKERS = 64
POLICIES = ("random", "model")
SB3_ALGOS = ("PPO", "A2C", "DQN", "SAC", "TD3", "DDPG")
_SEED_PART = re.compile(r"^(\d+)(?:-(\d+))?$")


# --- inputs ------------------------------------------------------------------------------


def parse_seeds(text: str) -> tuple[int, ...]:
    """Seeds from ``"0-9"``, ``"1,5,9"`` or a mix (``"0-4,10"``); ranges are inclusive.

    Raises:
        InvalidInputError: a part is not a non-negative integer or range, a
            range runs backwards, or a seed repeats.
    """
    seeds: list[int] = []
    for part in (p.strip() for p in text.split(",")):
        match = _SEED_PART.match(part)
        if not match:
            raise InvalidInputError(
                f"--seeds: {part!r} is not a seed or a range",
                hint="write seeds like 0-9 or 1,5,9 (non-negative integers)",
            )
        low, high = int(match.group(1)), int(match.group(2) or match.group(1))
        if high < low:
            raise InvalidInputError(
                f"--seeds: range {part!r} runs backwards", hint="write low-high"
            )
        seeds.extend(range(low, high + 1))
    if len(set(seeds)) != len(seeds):
        raise InvalidInputError(
            "--seeds: a seed is listed twice",
            hint="each seed is one paired episode; list each once",
        )
    if len(seeds) > MAX_EPISODES:
        raise InvalidInputError(f"--seeds: {len(seeds)} seeds is more than {MAX_EPISODES}")
    return tuple(seeds)


def choose_seeds(
    episodes: int | None, seeds: Sequence[int] | None, default: int = DEFAULT_EPISODES
) -> tuple[int, ...]:
    """The seeds to run: ``seeds`` if given, else ``0 .. episodes-1`` (``default`` episodes).

    Raises:
        InvalidInputError: the episode count is out of range or disagrees with the seeds.
    """
    if episodes is not None and not 1 <= episodes <= MAX_EPISODES:
        raise InvalidInputError(
            f"--episodes {episodes} is out of range", hint=f"use 1 .. {MAX_EPISODES}"
        )
    if seeds is not None:
        if not seeds:
            raise InvalidInputError("--seeds lists no seed")
        if episodes is not None and episodes != len(seeds):
            raise InvalidInputError(
                f"--episodes {episodes} disagrees with the {len(seeds)} seeds",
                hint="give one of --episodes and --seeds",
            )
        return tuple(seeds)
    return tuple(range(episodes if episodes is not None else default))


@dataclass(frozen=True)
class PolicyChoice:
    """Who picks the actions: ``random`` valid actions, or an SB3 ``model``."""

    kind: str = "random"
    model_path: Path | None = None
    algo: str = "PPO"

    def validated(self) -> PolicyChoice:
        """This choice, checked; the model path made absolute.

        Raises:
            InvalidInputError: unknown kind or algorithm, or a missing model file.
        """
        if self.kind not in POLICIES:
            raise InvalidInputError(f"unknown policy {self.kind!r}", hint="use random or model")
        if self.algo.upper() not in SB3_ALGOS:
            raise InvalidInputError(
                f"unknown SB3 algorithm {self.algo!r}", hint=f"one of {', '.join(SB3_ALGOS)}"
            )
        if self.kind == "random":
            if self.model_path is not None:
                raise InvalidInputError(
                    "a model was given with policy 'random'",
                    hint="use --policy model, or drop --model",
                )
            return self
        if self.model_path is None or not self.model_path.is_file():
            raise InvalidInputError(
                f"policy 'model' needs an SB3 model file, got {self.model_path}",
                hint="pass --model PATH to a saved .zip",
            )
        return replace(self, model_path=self.model_path.resolve(), algo=self.algo.upper())


def _validate_workers(workers: int) -> int:
    if isinstance(workers, bool) or not 1 <= workers <= MAX_WORKERS:
        raise InvalidInputError(
            f"--workers {workers} is out of range", hint=f"use 1 .. {MAX_WORKERS} processes"
        )
    return workers


def spec_from_manifest(
    manifest: Manifest,
    seeds: Sequence[int],
    *,
    policy: PolicyChoice = PolicyChoice(),
    config: Mapping[str, Any] | None = None,
    legacy: str = "legacy",
    candidate: str = "unified",
) -> ParitySpec:
    """The lockstep spec for the manifest's factory and these seeds.

    Raises:
        InvalidInputError: the manifest has no ``[env]`` section, or a policy
            or seed is not acceptable.
    """
    if manifest.env is None:
        raise InvalidInputError(
            f"{manifest.path} has no [env] section",
            hint="name the env factory there: [env] factory = 'pkg.mod:func'",
        )
    parse_entry_point(manifest.env.factory)
    if any(isinstance(s, bool) or not isinstance(s, int) or s < 0 for s in seeds):
        raise InvalidInputError("seeds must be non-negative integers")
    chosen = policy.validated()
    return ParitySpec(
        root=str(manifest.root),
        factory=manifest.env.factory,
        seeds=tuple(seeds),
        legacy=legacy,
        candidate=candidate,
        policy=chosen.kind,
        model_path=str(chosen.model_path) if chosen.model_path else None,
        model_algo=chosen.algo,
        config=dict(config) if config is not None else None,
    )


def margins_for(manifest: Manifest, spec: ParitySpec) -> dict[str, float]:
    """Each compared metric's margin from the manifest (``[parity]``)."""
    return {name: manifest.margin(name) for name in ("total_reward", *spec.info_metrics)}


# --- running in this process -------------------------------------------------------------


def _forget_package(package: str) -> None:
    for name in [n for n in sys.modules if n == package or n.startswith(package + ".")]:
        del sys.modules[name]


@contextlib.contextmanager
def target_imports(root: Path, factory: str) -> Iterator[None]:
    """Import the target's code fresh from ``root`` inside the block; restore afterwards."""
    package = parse_entry_point(factory)[0].split(".")[0]
    cwd, path, bytecode = os.getcwd(), list(sys.path), sys.dont_write_bytecode
    _forget_package(package)
    sys.path.insert(0, str(root))
    sys.dont_write_bytecode = True  # a parity run leaves nothing behind in the target
    try:
        yield
    finally:
        os.chdir(cwd)
        sys.path[:] = path
        sys.dont_write_bytecode = bytecode
        _forget_package(package)


def probe_envs(spec: ParitySpec, logger: str | None) -> dict[str, Any]:
    """Build both envs once, with the factory's log lines, before any episode runs.

    Raises:
        WorkspaceError: the factory fails, or builds one class for both env
            types (a global rollback such as ``_FORCE_LEGACY_ENV`` is on).
    """
    factory = load_entry_point(spec.factory)
    found: dict[str, Any] = {}
    for role, env_type in (("legacy", spec.legacy), ("candidate", spec.candidate)):
        with captured_log(logger) as lines:
            try:
                env = factory(spec.config, env_type=env_type)
            except Exception as exc:  # the target's own error, reported in one line
                raise WorkspaceError(
                    f"building the {role} env (env_type={env_type!r}) through {spec.factory} "
                    f"failed: {type(exc).__name__}: {exc}",
                    hint="fix the target's configuration or code, then run parity again",
                ) from exc
        found[role] = {"env_type": env_type, "class": type(env).__name__, "log": lines}
    if found["legacy"]["class"] == found["candidate"]["class"]:
        raise WorkspaceError(
            f"the factory builds {found['legacy']['class']} for both env types "
            f"({spec.legacy!r} and {spec.candidate!r}); parity would compare it with itself",
            hint="a global rollback (e.g. _FORCE_LEGACY_ENV = True) is in effect; undo it first",
        )
    return found


def _guarded(what: str, run: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return run(*args, **kwargs)
    except RunbookError:
        raise
    except Exception as exc:  # the legacy env or the runner failed: one line, not a traceback
        raise WorkspaceError(
            f"{what} failed: {type(exc).__name__}: {exc}",
            hint="run the target's own tests; the legacy env must run",
        ) from exc


# --- decision ----------------------------------------------------------------------------


def deciding_metric(metrics: Mapping[str, MetricComparison]) -> MetricComparison | None:
    """The metric whose relative difference is largest against its own margin."""
    return max(metrics.values(), key=lambda m: abs(m.relative_difference) / m.margin, default=None)


def derive_assessment(
    report: ParityReport, *, timed: bool = True
) -> tuple[Assessment, dict[str, Any]]:
    """Seed 000 §2's inputs from a parity report, and how each was derived.

    * crash: the candidate raised in any episode;
    * regression: the throughput regression in %, counted only when its 95%
      interval lies above zero (timing noise is no regression); ``None``
      when not timed (a baseline);
    * difference: the relative difference (%) of the metric furthest from
      equality against its margin, with that margin as the tolerance.
    """
    notes: dict[str, Any] = {}
    regression: float | None = None
    if timed:
        pct, (low, high) = report.throughput_regression_pct, report.throughput_ci_pct
        significant = pct <= 0 or low > 0
        regression = pct if significant else 0.0
        notes["regression"] = f"{pct:+.1f}% (95% CI {low:+.1f}% .. {high:+.1f}%)" + (
            "" if significant else ": the interval includes 0, so none"
        )
    else:
        notes["regression"] = "not measured: a baseline holds no comparable timings"
    metric = deciding_metric(report.metrics)
    difference = metric.relative_difference * 100 if metric else None
    tolerance = metric.margin * 100 if metric else Assessment().tolerance_pct
    notes["difference"] = (
        f"{metric.metric}: {difference:+.2f}% against a margin of {tolerance:g}%"
        if metric
        else "no metric compared"
    )
    if report.verdict == "INCONCLUSIVE":
        notes["difference"] += "; the verdict is INCONCLUSIVE, so this is a point estimate"
    notes["crash"] = report.reason if report.crash else "no crash"
    facts = Assessment(
        crash_or_data_loss=report.crash is not None,
        regression_pct=regression,
        difference_pct=difference,
        tolerance_pct=tolerance,
    )
    return facts, {
        "metric": metric.metric if metric else None,
        "notes": notes,
        "assessment": facts.to_dict(),
    }


# --- the run -----------------------------------------------------------------------------


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
    spec: ParitySpec, manifest: Manifest, workers: int, backend: Backend
) -> tuple[ParityReport, dict[str, Any]]:
    envs = probe_envs(spec, manifest.env.logger if manifest.env else None)
    report = _guarded(
        "the lockstep run", run_parity, spec, workers=workers,
        margins=margins_for(manifest, spec), backend=backend,
    )  # fmt: skip
    return report, envs


def _against_baseline(
    spec: ParitySpec, manifest: Manifest, baseline: Baseline, workers: int
) -> tuple[ParityReport, dict[str, Any]]:
    meta = baseline.meta
    factory = load_entry_point(spec.factory)
    with captured_log(manifest.env.logger if manifest.env else None) as lines:
        env = _guarded("building the candidate env", factory, spec.config, env_type=spec.candidate)
    envs = {
        "legacy": {
            "env_type": spec.legacy,
            "class": meta.get("env_class"),
            "recorded": str(baseline.path),
            "created_at": meta.get("created_at"),
        },
        "candidate": {"env_type": spec.candidate, "class": type(env).__name__, "log": lines},
    }
    records: list[EpisodeRecord] = _guarded(
        "the baseline replay",
        replay_baseline,
        spec,
        baseline,
        workers=workers,
        count=len(spec.seeds),
    )
    return build_report(spec, records, margins=margins_for(manifest, spec)), envs


def _baseline_spec(
    manifest: Manifest,
    baseline: Baseline,
    episodes: int | None,
    seeds: Sequence[int] | None,
    policy: PolicyChoice,
) -> ParitySpec:
    if seeds is not None or policy != PolicyChoice():
        raise InvalidInputError(
            "a baseline fixes the seeds and the actions",
            hint="drop --seeds, --policy and --model; --episodes N "
            "replays the first N recorded episodes",
        )
    available = len(baseline.episodes)
    if episodes is not None and not 1 <= episodes <= available:
        raise InvalidInputError(
            f"--episodes {episodes}: {baseline.path} holds {available}",
            hint=f"use 1 .. {available}",
        )
    meta = baseline.meta
    spec = spec_from_manifest(
        manifest,
        baseline.seeds[: episodes or available],
        config=meta.get("config"),
        legacy=str(meta.get("env_type", "legacy")),
    )
    return replace(
        spec, policy="replay", info_metrics=tuple(meta.get("info_metrics", spec.info_metrics))
    )


def _backend(kind: str, manifest: Manifest, archive: Path, baseline: Path | None) -> Backend:
    if kind not in BACKENDS:
        raise InvalidInputError(f"unknown backend {kind!r}", hint=f"one of: {', '.join(BACKENDS)}")
    if kind == "ray" and baseline is not None:
        raise InvalidInputError("a baseline replay runs on the process pool only",
                                hint="drop --backend ray, or --baseline")  # fmt: skip
    return Backend(kind, manifest.ray_address, archive.resolve() / "ray")


def run_incident_parity(
    manifest: Manifest,
    archive: Path,
    incident_id: str,
    *,
    episodes: int | None = None,
    seeds: Sequence[int] | None = None,
    workers: int = 1,
    policy: PolicyChoice = PolicyChoice(),
    baseline: Path | None = None,
    config: Mapping[str, Any] | None = None,
    backend: str = "process",
) -> ParityOutcome:
    """Run parity for an incident, decide, and save ``parity.json`` and the plots.

    Without ``baseline`` the legacy and the candidate env run in lockstep for
    ``seeds`` (default ``0 .. episodes-1``, :data:`DEFAULT_EPISODES` episodes).
    With ``baseline``, the candidate replays that recording's actions for its
    first ``episodes`` episodes (all by default); its seeds and actions are
    the recording's. ``backend`` ``ray`` runs the lockstep episodes as Ray
    tasks, on the manifest's ``[parity] ray_address`` or a local instance
    whose files go under ``<archive>/ray``.

    Raises:
        InvalidInputError: no such incident, or an input is not acceptable
            (nothing runs and nothing is written then).
        WorkspaceError: the target's factory or legacy env fails.
    """
    load_incident(archive, incident_id)
    workers = _validate_workers(workers)
    where = _backend(backend, manifest, archive, baseline)
    recorded = load_baseline(baseline) if baseline is not None else None
    if recorded is None:
        spec = spec_from_manifest(
            manifest, choose_seeds(episodes, seeds), policy=policy, config=config
        )
    else:
        spec = _baseline_spec(manifest, recorded, episodes, seeds, policy)
    with target_imports(manifest.root, spec.factory):
        if recorded is None:
            report, envs = _lockstep(spec, manifest, workers, where)
        else:
            report, envs = _against_baseline(spec, manifest, recorded, workers)
    facts, inputs = derive_assessment(report, timed=recorded is None)
    outcome = ParityOutcome(
        incident_id,
        report,
        decide(facts),
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
    policy: PolicyChoice = PolicyChoice(),
    config: Mapping[str, Any] | None = None,
    force: bool = False,
) -> dict[str, Any]:
    """Record ``env_type``'s trajectories for ``seeds`` into the baseline file ``out``.

    Raises:
        InvalidInputError: ``out`` exists (without ``force``) or its directory
            does not, or an input is not acceptable.
        WorkspaceError: the factory or the env fails.
    """
    if out.exists() and not force:
        raise InvalidInputError(f"{out} exists", hint="choose another --out, or pass --force")
    if not out.parent.is_dir():
        raise InvalidInputError(f"directory {out.parent} does not exist", hint="create it first")
    spec = spec_from_manifest(manifest, seeds, policy=policy, config=config, legacy=env_type)
    workers = _validate_workers(workers)
    with target_imports(manifest.root, spec.factory):
        factory = load_entry_point(spec.factory)
        env = _guarded(f"building the {env_type} env", factory, spec.config, env_type=env_type)
        meta = {"env_class": type(env).__name__, "target": manifest.name}
        saved: dict[str, Any] = _guarded(
            "the recording", record_baseline, spec, out, workers=workers, meta=meta
        )
    return saved
