"""Lockstep parity: run the legacy env and its candidate side by side.

Both envs come from the target's factory entry point (so any target works, not
only the sandbox), are reset with the same seed and get the same action at
every step. Each step's observation, reward, termination, truncation and action
mask are compared; both envs' step times are measured interleaved in the same
process, so machine noise hits both alike.
"""

from __future__ import annotations

import math
import os
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from runbook_lib.base.progress import ItemProgress
from runbook_lib.target.entrypoint import load_entry_point

FIELDS = ("obs", "reward", "terminated", "truncated", "action_mask")


@dataclass(frozen=True)
class ParitySpec:
    """What to compare and how.

    Attributes:
        root: The target's root (put on ``sys.path`` and used as working directory).
        factory: ``module:function`` building an env from ``(config, env_type=...)``.
        legacy: The ``env_type`` of the reference env.
        candidate: The ``env_type`` of the env under test.
        seeds: One seed per episode.
        policy: ``random`` (a seeded random valid action) or ``model``.
        model_path: An SB3 model for ``policy="model"``, acting on the legacy observation.
        model_algo: The SB3 algorithm class name of that model (``PPO``, ``DQN``...).
        info_metrics: Numeric ``info`` keys whose value at the episode's end is a metric.
        max_steps: Safety cap on an episode's length.
        config: Settings passed to the factory (``None``: the target's own config).
        python: The target's interpreter, which runs every env (``None``: runbook's).
        legacy_python: The legacy side's interpreter (``None``: ``python``).
        candidate_python: The candidate side's interpreter (``None``: ``python``).
        legacy_root: The legacy side's tree, e.g. a worktree at a ref (``None``: ``root``).
        candidate_root: The candidate side's tree (``None``: ``root``).
        policy_entry: ``module:function(observation_space, action_space) -> act``
            for ``policy="entry_point"``.
        atol: Absolute tolerance on observation leaves and rewards (0: exact).
        rtol: Relative tolerance on observation leaves and rewards (0: exact).
        fresh_env: Build new envs for every episode.
        min_step_agreement: The share of steps that must agree for a PASS.
        factory_config: How the worker makes the factory's config object
            (``[env] config`` loader or builder); takes the place of ``config``.
        factory_kwargs: ``[env] factory_kwargs``, passed to every factory call.
    """

    root: str
    factory: str
    seeds: tuple[int, ...]
    legacy: str = "legacy"
    candidate: str = "unified"
    policy: str = "random"
    model_path: str | None = None
    model_algo: str = "PPO"
    info_metrics: tuple[str, ...] | None = None
    max_steps: int = 100_000
    config: dict[str, Any] | None = None
    python: str | None = None
    legacy_python: str | None = None
    candidate_python: str | None = None
    legacy_root: str | None = None
    candidate_root: str | None = None
    policy_entry: str | None = None
    atol: float = 0.0
    rtol: float = 0.0
    fresh_env: bool = False
    min_step_agreement: float = 1.0

    def side(self, role: str) -> tuple[str | None, str]:
        """The interpreter (``None``: runbook's) and the tree of side ``role``."""
        if role == "candidate":
            return self.candidate_python or self.python, self.candidate_root or self.root
        return self.legacy_python or self.python, self.legacy_root or self.root

    factory_config: dict[str, Any] | None = None
    factory_kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass
class EpisodeRecord:
    """One paired episode."""

    episode: int
    seed: int
    length: int = 0
    legacy_reward: float = 0.0
    candidate_reward: float = 0.0
    legacy_info: dict[str, float] = field(default_factory=dict)
    candidate_info: dict[str, float] = field(default_factory=dict)
    agreeing_steps: int = 0
    first_divergence: dict[str, Any] | None = None
    legacy_seconds: float = 0.0
    candidate_seconds: float = 0.0
    reward_gap: list[float] = field(default_factory=list)
    mask_valid: list[int] = field(default_factory=list)
    error: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)

    @property
    def label(self) -> str:
        """The episode as a progress line names it: ``episode 3 seed 12``."""
        return f"episode {self.episode} seed {self.seed}"

    def summary(self) -> str:
        """One line for progress: length, both total rewards, where it diverged or crashed."""
        text = (
            f"{self.length} steps, reward {self.legacy_reward:.2f} legacy / "
            f"{self.candidate_reward:.2f} candidate"
        )
        if self.error:
            return f"{text}, the candidate crashed at step {self.error.get('step')}"
        if self.first_divergence:
            return f"{text}, first divergence at step {self.first_divergence.get('step')}"
        return text


# Called with each episode's record as it is done, in the process that reports progress.
EpisodeDone = Callable[[EpisodeRecord], None]


def ignore(_item: object) -> None:
    """A done-callback that does nothing (what a worker process gets)."""


def episode_done(progress: ItemProgress, total: int) -> EpisodeDone:
    """The callback that reports each finished episode to ``progress`` (of ``total``)."""

    def done(record: EpisodeRecord) -> None:
        progress.item_done(record.label, record.summary(), total=total)

    return done


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        flat = value.ravel()
        return flat[:16].tolist() + (["..."] if flat.size > 16 else [])
    if isinstance(value, np.generic):
        return value.item()
    return value


def leaves(value: Any, path: str = "") -> list[tuple[str, Any]]:
    """``(path, array)`` for every leaf of a (nested) Dict/Tuple observation, in order."""
    if isinstance(value, dict):
        return [leaf for key in value for leaf in leaves(value[key], f"{path}[{key!r}]")]
    if isinstance(value, tuple):
        return [leaf for i, item in enumerate(value) for leaf in leaves(item, f"{path}[{i}]")]
    return [(path, np.asarray(value))]


def first_leaf_difference(left: Any, right: Any) -> str | None:
    """The path of the first leaf (``['holding_time']``) that differs in shape, dtype or bytes."""
    pairs_l, pairs_c = leaves(left), leaves(right)
    if [p for p, _ in pairs_l] != [p for p, _ in pairs_c]:
        return "<structure>"
    for (path, a), (_, b) in zip(pairs_l, pairs_c, strict=True):
        if a.shape != b.shape or a.dtype != b.dtype or a.tobytes() != b.tobytes():
            return path
    return None


def _same_obs(left: Any, right: Any) -> bool:
    if isinstance(left, np.ndarray) and isinstance(right, np.ndarray):  # the common, fast case
        return bool(left.shape == right.shape and left.tobytes() == right.tobytes())
    return first_leaf_difference(left, right) is None


def _differs(name: str, left: Any, right: Any) -> bool:
    if name == "obs":
        return not _same_obs(left, right)
    if name == "action_mask":
        if left is None or right is None:
            return False  # an env without masks has nothing to compare
        return bool(np.asarray(left).tobytes() != np.asarray(right).tobytes())
    return bool(left != right)


class RandomValidPolicy:
    """A seeded uniform choice among the actions the mask allows (all, without a mask)."""

    def __init__(self, seed: int, n_actions: int) -> None:
        """Seed the generator for one episode."""
        self.rng = np.random.default_rng(seed)
        self.n_actions = n_actions

    def __call__(self, obs: Any, mask: Any) -> int:
        """Pick the next action."""
        if mask is not None:
            valid = np.asarray(mask).ravel().nonzero()[0]  # np.flatnonzero, without its overhead
            if valid.size:
                return int(valid[self.rng.integers(valid.size)])
        return int(self.rng.integers(self.n_actions))


class ModelPolicy:
    """An SB3 model's deterministic action on the legacy observation."""

    def __init__(self, path: str, algo: str) -> None:
        """Load the model once per worker."""
        import stable_baselines3

        algo_cls = getattr(stable_baselines3, algo.upper(), None)
        if algo_cls is None:
            raise ValueError(f"unknown SB3 algorithm {algo!r}; use one of PPO, A2C, DQN, SAC, TD3")
        self.model = algo_cls.load(path, device="cpu")

    def __call__(self, obs: Any, mask: Any) -> int:
        """Predict the next action."""
        action, _ = self.model.predict(obs, deterministic=True)
        return int(np.asarray(action).item())


def _mask_of(env: Any, info: dict[str, Any]) -> Any:
    mask = info.get("action_mask")
    if mask is None and hasattr(env, "action_masks"):
        mask = env.action_masks()
    return mask


def _final_metrics(info: dict[str, Any], keys: Sequence[str] | None) -> dict[str, float]:
    """The numeric values of ``keys`` in ``info`` (every numeric key when ``keys`` is None)."""
    found: dict[str, float] = {}
    for key in info if keys is None else keys:
        value = info.get(key)
        if isinstance(value, int | float | np.number) and not isinstance(value, bool):
            found[key] = float(value)
    return found


def build_envs(spec: ParitySpec) -> tuple[Any, Any]:
    """Build the legacy and the candidate env in this process (the in-process bench only)."""
    factory = load_entry_point(spec.factory)
    return factory(spec.config, env_type=spec.legacy), factory(spec.config, env_type=spec.candidate)


def _divergence(
    episode: int, step: int, out_l: tuple[Any, ...], out_c: tuple[Any, ...]
) -> dict[str, Any] | None:
    """The first field (in :data:`FIELDS` order) on which two step results differ."""
    values = (
        (out_l[0], out_c[0]),
        (out_l[1], out_c[1]),
        (out_l[2], out_c[2]),
        (out_l[3], out_c[3]),
        (out_l[4].get("action_mask"), out_c[4].get("action_mask")),
    )
    for name, (left, right) in zip(FIELDS, values, strict=True):
        if _differs(name, left, right):
            where, shown_l, shown_c = name, left, right
            if name == "obs" and not isinstance(left, np.ndarray):
                leaf = first_leaf_difference(left, right) or ""
                where = f"obs{leaf}"  # names the leaf: obs['holding_time']
                shown_l, shown_c = dict(leaves(left)).get(leaf), dict(leaves(right)).get(leaf)
            return {
                "episode": episode,
                "step": step,
                "field": where,
                "legacy": _jsonable(shown_l),
                "candidate": _jsonable(shown_c),
            }
    return None


def run_episode(
    envs: tuple[Any, Any],
    episode: int,
    seed: int,
    spec: ParitySpec,
    policy: Callable[[Any, Any], Any] | None = None,
) -> EpisodeRecord:
    """Run one paired episode and record every difference."""
    legacy, candidate = envs
    record = EpisodeRecord(episode=episode, seed=seed)
    obs_l, info_l = legacy.reset(seed=seed)
    obs_c, info_c = candidate.reset(seed=seed)
    act = policy or RandomValidPolicy(seed, int(legacy.action_space.n))
    mask_c = _mask_of(candidate, info_c)
    gap = 0.0
    clock = time.perf_counter
    for step in range(1, spec.max_steps + 1):
        action = act(obs_l, mask_c if mask_c is not None else _mask_of(legacy, info_l))
        t0 = clock()
        out_l = legacy.step(action)
        t1 = clock()
        try:
            out_c = candidate.step(action)
        except Exception as exc:  # the candidate's crash is the finding, not a runner error
            # An error raised in the env worker carries the target's own type and message.
            kind, message = getattr(exc, "kind", type(exc).__name__), getattr(exc, "detail", exc)
            record.error = {
                "env": "candidate",
                "episode": episode,
                "step": step,
                "type": kind,
                "message": str(message)[:500],
                "traceback": traceback.format_exc(limit=3)[-1500:],
            }
            record.length = step
            return record
        t2 = clock()
        record.legacy_seconds += t1 - t0
        record.candidate_seconds += t2 - t1
        obs_l, rew_l, term_l, trunc_l, info_l = out_l
        obs_c, rew_c, term_c, trunc_c, info_c = out_c
        mask_c = _mask_of(candidate, info_c)
        reward_l, reward_c = float(rew_l), float(rew_c)
        record.legacy_reward += reward_l
        record.candidate_reward += reward_c
        gap += abs(reward_c - reward_l)
        record.reward_gap.append(gap)
        record.mask_valid.append(-1 if mask_c is None else int(np.count_nonzero(mask_c)))
        # The common case (every field equal) is tested inline: a per-field loop per step
        # costs more than the comparison itself (see bench/bench_parity.py).
        if (
            rew_l == rew_c
            and term_l == term_c
            and trunc_l == trunc_c
            and _same_obs(obs_l, obs_c)
            and not _differs("action_mask", info_l.get("action_mask"), info_c.get("action_mask"))
        ):
            record.agreeing_steps += 1
        elif record.first_divergence is None:
            record.first_divergence = _divergence(episode, step, out_l, out_c)
        if term_l or trunc_l or term_c or trunc_c:
            break
    record.length = len(record.reward_gap)
    record.legacy_info = _final_metrics(info_l, spec.info_metrics)
    record.candidate_info = _final_metrics(info_c, spec.info_metrics)
    return record


def _prepare(root: str) -> None:
    os.chdir(root)
    if root not in sys.path:
        sys.path.insert(0, root)


def chunks(count: int, parts: int) -> list[list[int]]:
    """Split ``range(count)`` into ``parts`` contiguous, nearly equal chunks."""
    size = math.ceil(count / max(parts, 1))
    return [list(range(start, min(start + size, count))) for start in range(0, count, size)]
