"""Whole episodes inside the env worker: the policy runs here, one call per episode.

Part of the env worker (:mod:`envworker` registers :func:`ops`), under the same
rules: the standard library and the target's own gymnasium, numpy and SB3
only; Python >= 3.9. Calls:

* ``episode``: reset the envs named by ``handles`` with ``seed`` and step them
  in lockstep until one ends (or ``max_steps``); the first env's observation
  drives the policy (``random``, ``model``, ``entry_point``, or ``actions``
  given by the caller) and every env gets the same action. Per env it returns
  each step's reward, flags and a digest of the observation and the mask (the
  raw bytes of every leaf; :data:`SAME` at a step where every env of the call
  has the same bytes, so agreeing steps cost no hashing), the final info, the
  summed step time and the error that ended it; the observations stay in the
  worker for ``leaves``. With
  ``progress`` (a file of 8 bytes) the step under way is kept there through a
  memory map, so a worker killed mid-episode still tells which step it was on.
* ``leaves``: the observation and mask leaves of the last episode at given steps.
* ``train``: smoke-train an SB3 algorithm or a training entry point on an env.
* ``profile``: cProfile over seeded random episodes of one env (its own
  ``reset``/``step`` only); the top functions by own time.
"""

from __future__ import annotations

import mmap
import struct
import time
import traceback
from typing import Any, Callable, Dict, List, Optional, Tuple

if __package__:  # imported as part of runbook
    from . import envleaves, envpolicies
else:  # in the worker, started by path: this file's directory is on sys.path
    import envleaves  # type: ignore[no-redef,import-not-found]
    import envpolicies  # type: ignore[no-redef,import-not-found]

_SB3_SMALL = {
    "PPO": {"n_steps": 32, "batch_size": 16, "n_epochs": 1},
    "A2C": {"n_steps": 8},
    "DQN": {"learning_starts": 0, "buffer_size": 1000, "train_freq": 4},
    "SAC": {"learning_starts": 0, "buffer_size": 1000, "batch_size": 16},
    "TD3": {"learning_starts": 0, "buffer_size": 1000, "batch_size": 16},
    "DDPG": {"learning_starts": 0, "buffer_size": 1000, "batch_size": 16},
}


def _mask_value(env: Any, info: Any) -> Any:
    mask = info.get("action_mask") if isinstance(info, dict) else None
    if mask is None and hasattr(env, "action_masks"):
        mask = env.action_masks()
    return mask


def _last_mask(masks: List[Any]) -> Any:
    """The last env's mask that is not None (the candidate's, usually), else None."""
    for mask in reversed(masks):
        if mask is not None:
            return mask
    return None


class Trajectory:
    """One env's side of an episode."""

    def __init__(self) -> None:
        """Nothing stepped yet."""
        self.rewards: List[float] = []
        self.terminated: List[bool] = []
        self.truncated: List[bool] = []
        self.obs: List[Optional[str]] = []
        self.masks: List[Optional[str]] = []
        self.mask_valid: List[int] = []
        # Per step, the raw bytes of the observation and of the mask with their
        # shared layouts (see :mod:`envleaves`: nothing the GC tracks per step).
        self.obs_layouts: List[envleaves.Layout] = []
        self.obs_bytes: List[bytes] = []
        self.mask_layouts: List[Optional[envleaves.Layout]] = []
        self.mask_bytes: List[bytes] = []
        self.seconds = 0.0
        self.info: Any = {}
        self.error: Optional[Dict[str, Any]] = None

    def result(self, tools: Any) -> Dict[str, Any]:
        """JSON-ready form (the kept leaves stay here)."""
        return {
            "rewards": self.rewards,
            "terminated": self.terminated,
            "truncated": self.truncated,
            "obs": self.obs,
            "masks": self.masks,
            "mask_valid": self.mask_valid,
            "seconds": self.seconds,
            "info": tools.jsonable(self.info),
            "error": self.error,
        }


class _Progress:
    """The step under way, written into a memory-mapped file (nothing without a path)."""

    def __init__(self, path: Optional[str]) -> None:
        self.map: Optional[mmap.mmap] = None
        if path:
            with open(path, "r+b") as handle:
                self.map = mmap.mmap(handle.fileno(), 8)

    def at(self, step: int) -> None:
        if self.map is not None:
            struct.pack_into("<q", self.map, 0, step)

    def close(self) -> None:
        if self.map is not None:
            self.map.close()


class Episodes:
    """The ``episode``, ``leaves`` and ``train`` calls of one worker."""

    def __init__(self, worker: Any, tools: Any) -> None:
        """Use ``worker``'s envs; ``tools`` is the envworker module."""
        self.worker = worker
        self.tools = tools
        self.kept: Dict[str, Trajectory] = {}
        self._same_space: List[bool] = []
        self._discrete: List[bool] = []
        self.models: Dict[Any, Any] = {}

    def _policy(self, spec: Dict[str, Any], env: Any, seed: int) -> Callable[[Any, Any], Any]:
        kind = spec.get("kind", "random")
        if kind == "random":
            return envpolicies.RandomPolicy(self.tools, env.action_space, seed)
        if kind == "model":
            key = (spec["path"], spec["algo"])
            if key not in self.models:
                import stable_baselines3

                self.models[key] = getattr(stable_baselines3, spec["algo"]).load(
                    spec["path"], device="cpu"
                )
            return envpolicies.MaskedModel(self.tools, self.models[key])
        if kind == "entry_point":
            act = self.tools.load_entry_point(spec["entry"])(
                env.observation_space, env.action_space
            )
            return lambda obs, mask: act(obs)
        actions = [self.tools.decode_tree(a) for a in spec.get("actions") or []]
        return lambda obs, mask: actions.pop(0) if actions else None

    def episode(self, args: Dict[str, Any]) -> Dict[str, Any]:
        """Run one episode on every env in ``handles``; see the module docstring."""
        handles = list(args["handles"])
        envs = [self.worker.envs[h] for h in handles]
        seed = int(args["seed"])
        policy = self._policy(args.get("policy") or {}, envs[0], seed)
        sides = [Trajectory() for _ in envs]
        recorded: List[Any] = []
        keep_actions = bool(args.get("return_actions"))  # encoding each one costs a step's time
        spaces = [env.action_space for env in envs]
        self._same_space = [space is spaces[0] or space == spaces[0] for space in spaces]
        self._discrete = [type(space).__name__ == "Discrete" for space in spaces]
        progress = _Progress(args.get("progress"))
        progress.at(0)  # the reset
        obs, masks = self._reset(envs, seed)
        for step in range(1, int(args.get("max_steps", 100000)) + 1):
            progress.at(step)
            action = policy(obs, _last_mask(masks))
            if action is None:
                break  # the given actions are used up
            if keep_actions:
                recorded.append(self.tools.encode_tree(action))
            obs, masks, done = self._step(envs, sides, action, step)
            if done:
                break
        progress.close()
        for handle, side in zip(handles, sides):
            self.kept[handle] = side
        obs = envleaves.digests([s.obs_layouts for s in sides], [s.obs_bytes for s in sides])
        masks = envleaves.digests([s.mask_layouts for s in sides], [s.mask_bytes for s in sides])
        for side, obs_digests, mask_digests in zip(sides, obs, masks):
            side.obs, side.masks = obs_digests, mask_digests
        result = {"sides": [side.result(self.tools) for side in sides]}
        if keep_actions:
            result["actions"] = recorded
        return result

    def _reset(self, envs: List[Any], seed: int) -> Any:
        masks = []
        first = None
        for index, env in enumerate(envs):
            obs, info = env.reset(seed=seed)
            first = obs if index == 0 else first
            masks.append(_mask_value(env, info))
        return first, masks

    def _step(self, envs: List[Any], sides: List[Trajectory], action: Any, step: int) -> Any:
        clock = time.perf_counter
        done = False
        masks: List[Any] = []
        first: Any = None
        given = None  # the action in the first env's space; envs with an equal space share it
        for index, (env, side) in enumerate(zip(envs, sides)):
            try:
                if index == 0 or not self._same_space[index]:
                    # A Discrete space takes the policy's int as it is (the usual case).
                    discrete = self._discrete[index] and type(action) is int
                    given = action if discrete else self.tools._action_for(env.action_space, action)
                started = clock()
                out = env.step(given)
                side.seconds += clock() - started
            except Exception as exc:  # the env's failure is the finding
                side.error = {
                    "step": step,
                    "type": type(exc).__name__,
                    "message": str(exc)[:500],
                    "traceback": traceback.format_exc(limit=3)[-1500:],
                }
                return first, masks, True
            first = out[0] if index == 0 else first
            mask = _mask_value(env, out[4])
            masks.append(mask)
            self._record(side, out, mask)
            done = done or bool(out[2]) or bool(out[3])
        return first, masks, done

    def _record(self, side: Trajectory, out: Tuple[Any, ...], mask: Any) -> None:
        obs, reward, term, trunc, info = out
        tools = self.tools
        layout, blob = envleaves.flatten(tools, obs)
        side.obs_layouts.append(layout)
        side.obs_bytes.append(blob)
        side.rewards.append(float(reward))
        side.terminated.append(bool(term))
        side.truncated.append(bool(trunc))
        side.info = info
        if mask is None:
            side.mask_valid.append(-1)
            side.mask_layouts.append(None)
            side.mask_bytes.append(b"")
            return
        if not isinstance(mask, envleaves.NDARRAY[0]):
            mask = tools._np().asarray(mask)
        mask_layout, mask_blob = envleaves.flatten(tools, mask)
        if mask_layout[0][1] == "|b1":  # one byte per bool: counting zero bytes is exact
            side.mask_valid.append(len(mask_blob) - mask_blob.count(0))
        else:
            side.mask_valid.append(int(tools._np().count_nonzero(mask)))
        side.mask_layouts.append(mask_layout)
        side.mask_bytes.append(mask_blob)

    def leaves(self, args: Dict[str, Any]) -> Dict[str, Any]:
        """The kept observation and mask leaves of ``handle`` at each of ``steps`` (1-based)."""
        side = self.kept.get(args["handle"])
        found = {}
        for step in args["steps"]:
            if side is None:
                raise IndexError("no episode kept for %r" % args["handle"])
            at = int(step) - 1
            mask = side.mask_layouts[at]
            found[str(step)] = {
                "obs": envleaves.wire(side.obs_layouts[at], side.obs_bytes[at]),
                "mask": None if mask is None else envleaves.wire(mask, side.mask_bytes[at]),
            }
        return found

    def profile(self, args: Dict[str, Any]) -> Dict[str, Any]:
        """Profile seeded random episodes of ``handle``: only the env's own calls are timed."""
        env = self.worker.envs[args["handle"]]
        seeds = [int(seed) for seed in args["seeds"]]
        profiler = _profiled(self.tools, env, seeds, int(args.get("max_steps", 100000)))
        return {"rows": profile_rows(profiler, int(args.get("top", 8)))}

    def train(self, args: Dict[str, Any]) -> Dict[str, Any]:
        """Smoke-train ``algorithm`` on env ``handle``; failures come back as data."""
        env = self.worker.envs[args["handle"]]
        algorithm = args["algorithm"]
        started = time.perf_counter()
        try:
            if ":" in algorithm:
                self.tools.load_entry_point(algorithm)(env)
            else:
                import stable_baselines3

                kind = type(env.observation_space).__name__
                policy = "MultiInputPolicy" if kind == "Dict" else "MlpPolicy"
                algo = getattr(stable_baselines3, algorithm)
                small = _SB3_SMALL.get(algorithm, {})
                model = algo(policy, env, seed=0, device="cpu", verbose=0, **small)
                model.learn(total_timesteps=int(args.get("steps", 64)))
        except Exception as exc:  # the finding: this env cannot train this algorithm
            traceback.print_exc(limit=4)
            return {"ok": False, "type": type(exc).__name__, "message": str(exc)[:300]}
        return {"ok": True, "seconds": time.perf_counter() - started}


def _profiled(tools: Any, env: Any, seeds: List[int], max_steps: int) -> Any:
    import cProfile

    profiler = cProfile.Profile()
    for seed in seeds:
        policy = envpolicies.RandomPolicy(tools, env.action_space, seed)
        profiler.enable()
        _, info = env.reset(seed=seed)
        profiler.disable()
        for _ in range(max_steps):
            action = tools._action_for(env.action_space, policy(None, _mask_value(env, info)))
            profiler.enable()
            _, _, terminated, truncated, info = env.step(action)
            profiler.disable()
            if terminated or truncated:
                break
    return profiler


def profile_rows(profiler: Any, top: int) -> List[Dict[str, Any]]:
    """The ``top`` functions by own time: ``file:line(name)``, seconds, share, calls."""
    import os
    import pstats

    rows = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    total = sum(row[2] for row in rows.values()) or 1.0
    ranked = sorted(rows.items(), key=lambda item: item[1][2], reverse=True)[:top]
    return [
        {
            "function": "%s:%s(%s)" % (os.path.basename(file), line, name),
            "own_s": round(row[2], 4),
            "share": round(row[2] / total, 4),
            "calls": row[1],
        }
        for (file, line, name), row in ranked
    ]


def ops(worker: Any, tools: Any) -> Dict[str, Callable[[Dict[str, Any]], Dict[str, Any]]]:
    """The calls this module adds to a worker."""
    episodes = Episodes(worker, tools)
    return {
        "episode": episodes.episode,
        "leaves": episodes.leaves,
        "train": episodes.train,
        "profile": episodes.profile,
    }
