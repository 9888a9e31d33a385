"""Lockstep episodes run whole inside the env workers: one call per episode, not per step.

When both sides share an interpreter and a tree, one worker steps both envs
interleaved and runs the policy itself; otherwise the legacy side's worker runs
the episode and returns its actions, which the candidate's worker replays. The
workers return per-step digests of every leaf's bytes; the first divergence
(field, leaf, step) is then read exactly from the leaves the workers kept.
"""

from __future__ import annotations

import contextlib
import struct
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from runbook_lib.base.errors import WorkspaceError
from runbook_lib.parity.lockstep import (
    EpisodeDone,
    EpisodeRecord,
    ParitySpec,
    _final_metrics,
    _jsonable,
    ignore,
)
from runbook_lib.parity.remote import build_side
from runbook_lib.target.worker.client import EnvWorker, TargetCallError, WorkerError
from runbook_lib.target.worker.envworker import decode_tree
from runbook_lib.target.worker.stash import WorkerStash

ROLES = ("legacy", "candidate")
_FRESH_HINT = "an env that refuses reuse runs with [parity] fresh_env = true"


class Session:
    """The workers of one lockstep run and their envs."""

    def __init__(self, spec: ParitySpec, workers: dict[str, EnvWorker], scratch: Path) -> None:
        """``workers`` by role (the same worker twice when the sides share it).

        ``scratch`` (outside the target) holds each role's progress file.
        """
        self.spec = spec
        self.workers = workers
        self.shared = workers["legacy"] is workers["candidate"]
        self.progress = {role: scratch / f"{role}.step" for role in ROLES}

    def build(self) -> None:
        """(Re)build both envs through the factory."""
        for role in ROLES:
            build_side(self.workers[role], self.spec, self._env_type(role), role)

    def _policy(self) -> dict[str, Any]:
        spec = self.spec
        if spec.policy == "model":
            return {"kind": "model", "path": spec.model_path, "algo": spec.model_algo.upper()}
        if spec.policy == "entry_point":
            return {"kind": "entry_point", "entry": spec.policy_entry}
        return {"kind": "random"}

    def run(self, index: int, seed: int) -> EpisodeRecord:
        """One paired episode, compared."""
        if self.spec.fresh_env:
            self.build()
        if self.shared:
            out = self._episode("legacy", index, seed, handles=list(ROLES), policy=self._policy())
            legacy, candidate = out["sides"]
        else:
            out = self._episode(
                "legacy",
                index,
                seed,
                handles=["legacy"],
                policy=self._policy(),
                return_actions=True,
            )
            legacy = out["sides"][0]
            replay = {"kind": "actions", "actions": out["actions"]}
            candidate = self._episode(
                "candidate", index, seed, handles=["candidate"], policy=replay
            )["sides"][0]
        return compare(self, index, seed, legacy, candidate)

    def _episode(self, role: str, index: int, seed: int, **args: Any) -> dict[str, Any]:
        """One ``episode`` call in ``role``'s worker; a failure names env, episode and step."""
        progress = self.progress[role]
        progress.write_bytes(struct.pack("<q", -1))
        try:
            out: dict[str, Any] = self.workers[role].call(
                "episode", seed=seed, max_steps=self.spec.max_steps, progress=str(progress), **args
            )
        except (WorkerError, TargetCallError) as exc:
            step = struct.unpack("<q", progress.read_bytes()[:8])[0]
            where = "at the reset" if step == 0 else f"at step {step}"
            envs = " and ".join(
                f"{name} env ({self._env_type(name)!r})" for name in args["handles"]
            )
            message = f"the {envs}, episode {index} (seed {seed}) {where}: {exc.message}"
            if isinstance(exc, TargetCallError):
                raise TargetCallError(
                    message, kind=exc.kind, detail=exc.detail, hint=_FRESH_HINT
                ) from None
            raise WorkerError(message, hint=exc.hint) from None
        return out

    def _env_type(self, role: str) -> str:
        return self.spec.legacy if role == "legacy" else self.spec.candidate

    def leaves(self, role: str, steps: Sequence[int]) -> dict[str, Any]:
        """The kept leaves of ``role`` at ``steps``."""
        found: dict[str, Any] = self.workers[role].call("leaves", handle=role, steps=list(steps))
        return found


def _arrays(leaves: list[dict[str, Any]] | None) -> list[tuple[str, np.ndarray]]:
    result = []
    for leaf in leaves or []:
        path = "".join(f"[{p!r}]" if isinstance(p, str) else f"[{p}]" for p in leaf["path"])
        array = decode_tree({"kind": "leaf", "leaves": [leaf]})
        result.append((path, array))
    return result


def _close(a: np.ndarray, b: np.ndarray, atol: float, rtol: float) -> bool:
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if a.tobytes() == b.tobytes():
        return True
    if (atol or rtol) and np.issubdtype(a.dtype, np.number):
        return bool(np.allclose(a, b, atol=atol, rtol=rtol))
    return False


def _leaf_difference(
    left: list[tuple[str, np.ndarray]], right: list[tuple[str, np.ndarray]], spec: ParitySpec
) -> tuple[str, Any, Any] | None:
    if [p for p, _ in left] != [p for p, _ in right]:
        return "<structure>", [p for p, _ in left], [p for p, _ in right]
    for (path, a), (_, b) in zip(left, right, strict=True):
        if not _close(a, b, spec.atol, spec.rtol):
            return path, a, b
    return None


def _step_fields(
    spec: ParitySpec, legacy: dict[str, Any], candidate: dict[str, Any], i: int
) -> list[str]:
    """The fields (other than the observation) on which step ``i`` (0-based) differs."""
    differ = []
    a, b = legacy["rewards"][i], candidate["rewards"][i]
    tolerant = bool(spec.atol or spec.rtol)
    if (not np.isclose(a, b, rtol=spec.rtol, atol=spec.atol)) if tolerant else a != b:
        differ.append("reward")
    for name in ("terminated", "truncated"):
        if legacy[name][i] != candidate[name][i]:
            differ.append(name)
    return differ


def _suspects(
    spec: ParitySpec, legacy: dict[str, Any], candidate: dict[str, Any], n: int
) -> list[int]:
    """The steps (0-based) where a digest, a mask or a step field differs."""
    fields = ("rewards", "terminated", "truncated")
    # The usual episode agrees everywhere: whole-list comparisons settle it without a
    # Python call per step.
    same_fields = all(legacy[name][:n] == candidate[name][:n] for name in fields)
    if same_fields and legacy["obs"][:n] == candidate["obs"][:n]:
        masks_l, masks_c = legacy["masks"], candidate["masks"]
        return [i for i in range(n) if _masks_differ(masks_l[i], masks_c[i])]
    return [
        i
        for i in range(n)
        if legacy["obs"][i] != candidate["obs"][i]
        or _masks_differ(legacy["masks"][i], candidate["masks"][i])
        or (not same_fields and _step_fields(spec, legacy, candidate, i))
    ]


def compare(
    session: Session, index: int, seed: int, legacy: dict[str, Any], candidate: dict[str, Any]
) -> EpisodeRecord:
    """The record of one episode from both sides' trajectories."""
    spec = session.spec
    n = min(len(legacy["rewards"]), len(candidate["rewards"]))
    differing = _confirm(session, legacy, candidate, _suspects(spec, legacy, candidate, n))
    if legacy["error"] is not None and not differing:  # it raised while both still agreed
        error = legacy["error"]
        raise WorkspaceError(
            f"the legacy env raised at episode {index} (seed {seed}), step {error['step']}: "
            f"{error['type']}: {error['message']}",
            hint="the legacy env must run; run the target's own tests",
        )
    record = EpisodeRecord(episode=index, seed=seed, length=n)
    record.legacy_reward = float(sum(legacy["rewards"][:n]))
    record.candidate_reward = float(sum(candidate["rewards"][:n]))
    gaps = np.cumsum(np.abs(np.subtract(candidate["rewards"][:n], legacy["rewards"][:n])))
    record.reward_gap = [float(g) for g in gaps]
    record.mask_valid = list(candidate["mask_valid"][:n])
    record.legacy_seconds, record.candidate_seconds = legacy["seconds"], candidate["seconds"]
    record.agreeing_steps = n - len(differing)
    if differing:
        record.first_divergence = differing[0]
        record.first_divergence["episode"] = index
        if legacy["error"] is not None:  # the envs had parted: the action was the candidate's
            error = legacy["error"]
            record.first_divergence["then"] = (
                f"the legacy env then refused step {error['step']}: "
                f"{error['type']}: {error['message']}"
            )
    if candidate["error"] is not None:
        error = candidate["error"]
        record.error = {"env": "candidate", "episode": index, **error}
        record.length = int(error["step"])
    record.legacy_info = _final_metrics(legacy["info"], spec.info_metrics)
    record.candidate_info = _final_metrics(candidate["info"], spec.info_metrics)
    return record


def _masks_differ(left: str | None, right: str | None) -> bool:
    return left is not None and right is not None and left != right


def _confirm(
    session: Session, legacy: dict[str, Any], candidate: dict[str, Any], suspects: list[int]
) -> list[dict[str, Any]]:
    """The steps among ``suspects`` that really differ (tolerances applied), in order.

    Only the first one carries its detail (field, leaf, both values).
    """
    if not suspects:
        return []
    spec = session.spec
    tolerant = bool(spec.atol or spec.rtol)
    steps = suspects if tolerant else suspects[:1]
    kept_l, kept_c = (session.leaves(role, [i + 1 for i in steps]) for role in ROLES)
    found: list[dict[str, Any]] = []
    for i in steps:
        detail = _detail(
            spec,
            legacy=legacy,
            candidate=candidate,
            i=i,
            kept_l=kept_l[str(i + 1)],
            kept_c=kept_c[str(i + 1)],
        )
        if detail is not None:
            found.append(detail)
    if not tolerant:
        found += [{"step": i + 1} for i in suspects[1:]]
    return found


def _detail(
    spec: ParitySpec,
    *,
    legacy: dict[str, Any],
    candidate: dict[str, Any],
    i: int,
    kept_l: dict[str, Any],
    kept_c: dict[str, Any],
) -> dict[str, Any] | None:
    step = i + 1
    obs = _leaf_difference(_arrays(kept_l["obs"]), _arrays(kept_c["obs"]), spec)
    if obs is not None:
        path, left, right = obs
        field = "obs" + ("" if path == "" else path)
        return _entry(step, field, left, right)
    for name in _step_fields(spec, legacy, candidate, i):
        key = "rewards" if name == "reward" else name
        return _entry(step, name, legacy[key][i], candidate[key][i])
    if kept_l["mask"] is not None and kept_c["mask"] is not None:
        mask = _leaf_difference(_arrays(kept_l["mask"]), _arrays(kept_c["mask"]), spec)
        if mask is not None:
            return _entry(step, "action_mask", mask[1], mask[2])
    return None


def _entry(step: int, field: str, left: Any, right: Any) -> dict[str, Any]:
    return {"step": step, "field": field, "legacy": _jsonable(left), "candidate": _jsonable(right)}


@contextlib.contextmanager
def session(spec: ParitySpec, stash: WorkerStash | None = None) -> Iterator[Session]:
    """Workers for both sides (one when they share interpreter and tree), envs built.

    A worker waiting in ``stash`` for a side is taken from it (the envs are
    built afresh in it all the same); the session stops its workers on exit.
    """
    started: list[EnvWorker] = []
    stack = contextlib.ExitStack()
    by_side: dict[tuple[str, str], EnvWorker] = {}
    workers: dict[str, EnvWorker] = {}
    try:
        scratch = stack.enter_context(tempfile.TemporaryDirectory(prefix="runbook-parity-"))
        for role in ROLES:
            python, root = spec.side(role)
            key = (python or sys.executable, root)
            if key not in by_side:
                by_side[key] = (
                    EnvWorker(key[0], Path(root))
                    if stash is None
                    else stash.take(key[0], Path(root))
                )
                started.append(by_side[key])
            workers[role] = by_side[key]
        live = Session(spec, workers, Path(scratch))
        live.build()
        yield live
    finally:
        for worker in started:
            worker.close()
        stack.close()


def run_chunk(
    spec: ParitySpec,
    indices: Sequence[int],
    done: EpisodeDone = ignore,
    stash: WorkerStash | None = None,
) -> list[EpisodeRecord]:
    """Run the episodes ``indices`` of ``spec`` in env workers; ``done(record)`` after each.

    The workers are taken from ``stash`` when one waits there for a side.
    """
    records = []
    with session(spec, stash) as live:
        for i in indices:
            records.append(live.run(i, spec.seeds[i]))
            done(records[-1])
    return records
