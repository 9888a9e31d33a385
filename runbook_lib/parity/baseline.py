"""Parity against recorded trajectories, as FUSION's run_comparison.py checks expected results.

:func:`record_baseline` runs one env (the legacy one by default) through the
target's factory and saves, per episode, its seed, per-step actions, rewards,
``terminated``/``truncated`` (0/1) and a digest of each observation (the
first 16 hex digits of the sha256 of its bytes, which keeps a 1000-step
episode near 30 kB), plus the episode's metrics. :func:`replay_baseline` feeds
the recorded actions to the candidate env and returns the same
:class:`~runbook_lib.parity.lockstep.EpisodeRecord` objects as a lockstep run,
the recording on the legacy side, so the engine's statistics apply unchanged.
A baseline holds no timings: throughput is only compared side by side.
"""

from __future__ import annotations

import json
import time
import traceback
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from runbook_lib.base.errors import InvalidInputError
from runbook_lib.base.fsutil import atomic_write_text
from runbook_lib.base.progress import NO_PROGRESS, ItemProgress
from runbook_lib.parity.lockstep import (
    EpisodeDone,
    EpisodeRecord,
    ModelPolicy,
    ParitySpec,
    RandomValidPolicy,
    _final_metrics,
    _mask_of,
    chunks,
    ignore,
)
from runbook_lib.parity.remote import remote_envs
from runbook_lib.target.probes.envprobe import obs_digest

KIND = "runbook-parity-baseline"
SCHEMA = 1
_COLUMNS = ("actions", "rewards", "obs_sha256", "terminated", "truncated")
T = TypeVar("T")
Job = TypeVar("Job")


def map_episodes(
    work: Callable[[Job, list[int], Callable[[T], None]], list[T]],
    job: Job,
    count: int,
    workers: int,
    done: Callable[[T], None] = ignore,
) -> list[T]:
    """``work(job, indices, done)`` over ``range(count)``, over a fork pool when ``workers > 1``.

    ``done(item)`` is called in this process for each episode: by ``work``
    as it goes when it runs here, else as a chunk's results come back.
    """
    parts = chunks(count, workers)
    if workers <= 1 or len(parts) <= 1:
        return work(job, list(range(count)), done)
    with ProcessPoolExecutor(max_workers=len(parts), mp_context=get_context("fork")) as pool:
        futures = [pool.submit(work, job, part, ignore) for part in parts]
        for future in as_completed(futures):
            for item in future.result():
                done(item)
        return [item for future in futures for item in future.result()]


def record_episode(
    env: Any,
    episode: int,
    seed: int,
    spec: ParitySpec,
    policy: Callable[[Any, Any], int] | None = None,
) -> dict[str, Any]:
    """Run one episode of ``env`` and return its recording."""
    obs, info = env.reset(seed=seed)
    act = policy or RandomValidPolicy(seed, int(env.action_space.n))
    data: dict[str, Any] = {"episode": episode, "seed": seed, "reset_obs_sha256": obs_digest(obs)}
    columns: dict[str, list[Any]] = {name: [] for name in _COLUMNS}
    total = 0.0
    for _ in range(spec.max_steps):
        action = act(obs, _mask_of(env, info))
        obs, reward, terminated, truncated, info = env.step(action)
        total += float(reward)
        for name, value in zip(
            _COLUMNS,
            (
                int(action),
                float(reward),
                obs_digest(obs),
                int(bool(terminated)),
                int(bool(truncated)),
            ),
            strict=True,
        ):
            columns[name].append(value)
        if terminated or truncated:
            break
    metrics = {"total_reward": total, **_final_metrics(info, spec.info_metrics)}
    return {**data, "length": len(columns["actions"]), "metrics": metrics, **columns}


def _record_chunk(
    spec: ParitySpec, indices: list[int], done: Callable[[dict[str, Any]], None]
) -> list[dict[str, Any]]:
    policy = ModelPolicy(spec.model_path, spec.model_algo) if spec.model_path else None
    recorded = []
    with remote_envs(spec, (spec.legacy,)) as (env,):
        for i in indices:
            recorded.append(record_episode(env, i, spec.seeds[i], spec, policy))
            done(recorded[-1])
    return recorded


def record_baseline(
    spec: ParitySpec,
    out: Path,
    *,
    workers: int = 1,
    meta: dict[str, Any] | None = None,
    progress: ItemProgress = NO_PROGRESS,
) -> dict[str, Any]:
    """Record ``spec.legacy``'s episodes for ``spec.seeds`` into ``out`` (atomic write).

    ``progress`` is told as each episode is recorded.

    Returns:
        The saved object without its per-step columns.
    """
    count = len(spec.seeds)

    def done(episode: dict[str, Any]) -> None:
        reward = episode["metrics"]["total_reward"]
        progress.item_done(
            f"episode {episode['episode']} seed {episode['seed']}",
            f"{episode['length']} steps, reward {reward:.2f}",
            total=count,
        )

    episodes = map_episodes(_record_chunk, spec, count, workers, done)
    data = {
        "kind": KIND,
        "schema": SCHEMA,
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "factory": spec.factory,
        "env_type": spec.legacy,
        "config": spec.config,
        "policy": spec.policy,
        "model_path": spec.model_path,
        "model_algo": spec.model_algo,
        "info_metrics": None if spec.info_metrics is None else list(spec.info_metrics),
        "max_steps": spec.max_steps,
        **(meta or {}),
        "episodes": episodes,
    }
    atomic_write_text(out, json.dumps(data, separators=(",", ":")) + "\n")
    return {**data, "episodes": [_summary(e) for e in episodes]}


def _summary(episode: dict[str, Any]) -> dict[str, Any]:
    return {key: episode[key] for key in ("episode", "seed", "length", "metrics")}


@dataclass(frozen=True)
class Baseline:
    """A loaded, validated baseline file."""

    path: Path
    meta: dict[str, Any]
    episodes: list[dict[str, Any]]

    @property
    def seeds(self) -> tuple[int, ...]:
        """One seed per recorded episode."""
        return tuple(int(e["seed"]) for e in self.episodes)


def _bad(path: Path, problem: str) -> InvalidInputError:
    return InvalidInputError(
        f"{path} is not a parity baseline: {problem}",
        hint="record one with 'runbook parity record --out FILE'",
    )


def _check_episode(path: Path, index: int, episode: Any) -> None:
    if not isinstance(episode, dict):
        raise _bad(path, f"episode {index} is not an object")
    missing = [k for k in ("seed", "reset_obs_sha256", "metrics", *_COLUMNS) if k not in episode]
    if missing:
        raise _bad(path, f"episode {index} lacks {', '.join(missing)}")
    lengths = {name: len(episode[name]) for name in _COLUMNS if isinstance(episode[name], list)}
    if len(lengths) != len(_COLUMNS) or len(set(lengths.values())) != 1:
        raise _bad(path, f"episode {index}'s per-step lists are missing or of unequal length")
    if not isinstance(episode["seed"], int) or not isinstance(episode["metrics"], dict):
        raise _bad(path, f"episode {index} has a malformed seed or metrics")
    for name, valid in _VALID.items():
        if not all(valid(value) for value in episode[name]):
            raise _bad(path, f"episode {index} has a malformed value in {name!r}")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# What each per-step column may hold; a bad value must not pass for a candidate's crash.
_VALID: dict[str, Callable[[Any], bool]] = {
    "actions": lambda v: _is_int(v) and v >= 0,
    "rewards": lambda v: _is_int(v) or isinstance(v, float),
    "obs_sha256": lambda v: isinstance(v, str),
    "terminated": lambda v: v in (0, 1) and _is_int(v),
    "truncated": lambda v: v in (0, 1) and _is_int(v),
}


def load_baseline(path: Path) -> Baseline:
    """Read and validate a baseline recorded by :func:`record_baseline`.

    Raises:
        InvalidInputError: the file is missing, not JSON, or not a baseline
            (the message names the first problem).
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InvalidInputError(
            f"baseline {path} does not exist",
            hint="record one with 'runbook parity record --out FILE'",
        ) from None
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise _bad(path, f"cannot read it as JSON ({err})") from None
    if not isinstance(data, dict) or data.get("kind") != KIND:
        raise _bad(path, f"'kind' is not {KIND!r}")
    if data.get("schema") != SCHEMA:
        raise _bad(path, f"schema {data.get('schema')!r} is not {SCHEMA}")
    episodes = data.get("episodes")
    if not isinstance(episodes, list) or not episodes:
        raise _bad(path, "it holds no episodes")
    for index, episode in enumerate(episodes):
        _check_episode(path, index, episode)
    meta = {key: value for key, value in data.items() if key != "episodes"}
    return Baseline(path, meta, episodes)


def _crash(record: EpisodeRecord, step: int, exc: Exception) -> EpisodeRecord:
    record.error = {
        "env": "candidate",
        "episode": record.episode,
        "step": step,
        "type": type(exc).__name__,
        "message": str(exc)[:500],
        "traceback": traceback.format_exc(limit=3)[-1500:],
    }
    record.length = step
    return record


def _diverged(record: EpisodeRecord, step: int, field: str, recorded: Any, live: Any) -> None:
    if record.first_divergence is None:
        record.first_divergence = {
            "episode": record.episode,
            "step": step,
            "field": field,
            "legacy": recorded,
            "candidate": live,
        }


def replay_episode(
    env: Any, recorded: dict[str, Any], episode: int, spec: ParitySpec
) -> EpisodeRecord:
    """Feed one recorded episode's actions to ``env``; the recording is the legacy side."""
    record = EpisodeRecord(episode=episode, seed=int(recorded["seed"]))
    record.legacy_reward = float(recorded["metrics"].get("total_reward", sum(recorded["rewards"])))
    record.legacy_info = {
        k: float(v) for k, v in recorded["metrics"].items() if k != "total_reward"
    }
    obs, info = env.reset(seed=record.seed)
    if obs_digest(obs) != recorded["reset_obs_sha256"]:
        _diverged(record, 0, "obs", recorded["reset_obs_sha256"], obs_digest(obs))
    gap, clock = 0.0, time.perf_counter
    rows = zip(*(recorded[name] for name in _COLUMNS), strict=True)
    for step, (action, reward_l, digest_l, term_l, trunc_l) in enumerate(rows, start=1):
        started = clock()
        try:
            obs, reward, terminated, truncated, info = env.step(action)
        except Exception as exc:  # the candidate's crash is the finding
            return _crash(record, step, exc)
        record.candidate_seconds += clock() - started
        reward_c = float(reward)
        record.candidate_reward += reward_c
        gap += abs(reward_c - float(reward_l))
        record.reward_gap.append(gap)
        mask = _mask_of(env, info)
        record.mask_valid.append(-1 if mask is None else int(np.count_nonzero(mask)))
        live = (obs_digest(obs), reward_c, int(bool(terminated)), int(bool(truncated)))
        fields = zip(
            ("obs", "reward", "terminated", "truncated"),
            (digest_l, float(reward_l), term_l, trunc_l),
            live,
            strict=True,
        )
        bad = next(((name, a, b) for name, a, b in fields if a != b), None)
        if bad is None:
            record.agreeing_steps += 1
        else:
            _diverged(record, step, *bad)
        if terminated or truncated:
            break
    record.length = len(record.reward_gap)
    record.candidate_info = _final_metrics(info, spec.info_metrics)
    return record


def _replay_chunk(
    job: tuple[ParitySpec, Baseline], indices: list[int], done: EpisodeDone
) -> list[EpisodeRecord]:
    spec, baseline = job
    records = []
    with remote_envs(spec, (spec.candidate,)) as (env,):
        for i in indices:
            records.append(replay_episode(env, baseline.episodes[i], i, spec))
            done(records[-1])
    return records


def replay_baseline(
    spec: ParitySpec,
    baseline: Baseline,
    *,
    workers: int = 1,
    count: int | None = None,
    done: EpisodeDone = ignore,
) -> list[EpisodeRecord]:
    """Replay the baseline's first ``count`` episodes (all by default) on ``spec.candidate``.

    ``done(record)`` is called in this process as each episode is done.
    """
    total = len(baseline.episodes) if count is None else min(count, len(baseline.episodes))
    return map_episodes(_replay_chunk, (spec, baseline), total, workers, done)
