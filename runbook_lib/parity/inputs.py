"""Parity inputs: seeds, the policy, workers and backend, and the lockstep spec from the manifest.

Everything here is checked before anything runs, so a bad input ends in one
:class:`~runbook_lib.base.errors.InvalidInputError` and nothing is written.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from runbook_lib.base.errors import InvalidInputError
from runbook_lib.parity.backends import BACKENDS, Backend
from runbook_lib.parity.baseline import Baseline
from runbook_lib.parity.lockstep import ParitySpec
from runbook_lib.parity.refs import side_refs
from runbook_lib.target.entrypoint import parse_entry_point
from runbook_lib.target.interpreter import probe_interpreter, target_interpreter
from runbook_lib.target.manifest import Manifest
from runbook_lib.target.worker.stash import WorkerStash

DEFAULT_EPISODES = 20
MAX_EPISODES = 100_000
MAX_WORKERS = 64
POLICIES = ("random", "model", "entry_point")
SB3_ALGOS = ("PPO", "A2C", "DQN", "SAC", "TD3", "DDPG")
_SEED_PART = re.compile(r"^(\d+)(?:-(\d+))?$")


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
    entry: str | None = None

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
        if self.kind == "entry_point":
            parse_entry_point(self.entry or "")
            return self
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


# The default for signatures in other modules: PolicyChoice is frozen, so one can be shared.
DEFAULT_POLICY = PolicyChoice()


def validate_workers(workers: int) -> int:
    """``workers`` if it is a process count parity accepts.

    Raises:
        InvalidInputError: not an integer in ``1 .. MAX_WORKERS``.
    """
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
    legacy: str | None = None,
    candidate: str | None = None,
    stash: WorkerStash | None = None,
) -> ParitySpec:
    """The lockstep spec for the manifest's factory and these seeds.

    The manifest's ``[parity]`` settings apply: the two sides, the metrics,
    the tolerances, ``fresh_env`` and its policy (unless ``policy`` chooses one).
    The worker that proved the target's interpreter waits in ``stash``, if
    given, for the run's next step.

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
    settings = manifest.parity
    if policy == DEFAULT_POLICY:
        policy = manifest_policy(manifest)
    chosen = policy.validated()
    side_refs(manifest)  # every ref must name a commit before anything runs
    return ParitySpec(
        root=str(manifest.root),
        factory=manifest.env.factory,
        seeds=tuple(seeds),
        legacy=legacy or settings.legacy.env_type,
        candidate=candidate or settings.candidate.env_type,
        policy=chosen.kind,
        model_path=str(chosen.model_path) if chosen.model_path else None,
        model_algo=chosen.algo,
        config=dict(config) if config is not None else None,
        python=str(_checked_interpreter(manifest, stash)),
        factory_config=_factory_config(manifest),
        factory_kwargs=dict(manifest.env.factory_kwargs),
        legacy_python=side_python(manifest, settings.legacy.python),
        candidate_python=side_python(manifest, settings.candidate.python),
        policy_entry=chosen.entry,
        info_metrics=settings.metrics,
        atol=settings.atol,
        rtol=settings.rtol,
        fresh_env=settings.fresh_env,
        min_step_agreement=settings.min_step_agreement,
    )


def manifest_policy(manifest: Manifest) -> PolicyChoice:
    """The ``[parity] policy`` as a choice; a model loads with ``[models] algo`` (PPO without)."""
    found = manifest.parity.policy
    if found.kind == "model" and found.value is not None:
        algo = manifest.models.algo if manifest.models is not None else "PPO"
        return PolicyChoice("model", manifest.resolve(found.value), algo)
    if found.kind == "entry_point":
        return PolicyChoice("entry_point", entry=found.value)
    return DEFAULT_POLICY


def side_python(manifest: Manifest, python: str | None) -> str | None:
    """A side's interpreter as an absolute path (relative ones are under the root).

    Raises:
        InvalidInputError: it does not exist or is not executable.
    """
    if python is None:
        return None
    path = Path(python) if Path(python).is_absolute() else manifest.root / python
    if not path.is_file() or not os.access(path, os.X_OK):
        raise InvalidInputError(
            f"[parity] python {path} does not exist or is not executable",
            hint="name the side's interpreter, e.g. '/path/to/venv/bin/python'",
        )
    return str(path)


def _checked_interpreter(manifest: Manifest, stash: WorkerStash | None) -> Path:
    """The target's interpreter, once proven to run the env worker with gymnasium.

    Raises:
        InvalidInputError: it does not exist, is not executable or has no
            gymnasium (one line naming the path).
    """
    found = target_interpreter(manifest)
    probe_interpreter(found, manifest.root, stash)
    return found.path


def _factory_config(manifest: Manifest) -> dict[str, Any] | None:
    """``[env] config``'s loader or builder, as the env worker takes it."""
    switch = manifest.env.config if manifest.env else None
    found = switch.factory_config(manifest.root) if switch is not None else None
    return dict(found) if found is not None else None


def margins_for(manifest: Manifest, spec: ParitySpec) -> dict[str, float]:
    """Each compared metric's margin from the manifest (``[parity]``); others get the default."""
    names = ("total_reward", *(spec.info_metrics or ()), *manifest.margins)
    return {name: manifest.margin(name) for name in names}


def baseline_spec(
    manifest: Manifest,
    baseline: Baseline,
    episodes: int | None,
    seeds: Sequence[int] | None,
    policy: PolicyChoice,
    *,
    stash: WorkerStash | None = None,
) -> ParitySpec:
    """The spec replaying ``baseline``'s first ``episodes`` episodes (all by default).

    ``stash`` is :func:`spec_from_manifest`'s.

    Raises:
        InvalidInputError: seeds or a policy were given (the recording fixes
            them), or ``episodes`` is more than the recording holds.
    """
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
        stash=stash,
    )
    recorded = meta.get("info_metrics", spec.info_metrics)
    metrics = None if recorded is None else tuple(recorded)
    return replace(spec, policy="replay", info_metrics=metrics)


def choose_backend(kind: str, manifest: Manifest, archive: Path, baseline: Path | None) -> Backend:
    """The backend named ``kind``; a local Ray instance keeps its files under ``<archive>/ray``.

    Raises:
        InvalidInputError: an unknown backend, or Ray with a baseline replay.
    """
    if kind not in BACKENDS:
        raise InvalidInputError(f"unknown backend {kind!r}", hint=f"one of: {', '.join(BACKENDS)}")
    if kind == "ray" and baseline is not None:
        raise InvalidInputError(
            "a baseline replay runs on the process pool only",
            hint="drop --backend ray, or --baseline",
        )
    return Backend(kind, manifest.ray_address, archive.resolve() / "ray")
