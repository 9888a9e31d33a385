"""The verification probes inside the env worker: check_env, determinism, monitoring, models.

Part of the env worker (:mod:`envworker` registers :func:`ops`), under the same
rules: the standard library and the target's own gymnasium, numpy and SB3
only; Python >= 3.9. Every call builds its envs through the factory with the
``factory``, ``config`` and ``kwargs`` it is given (as ``build`` does) and
returns the JSON object :mod:`runbook_lib.verify.checks.env` turns into a check:

* ``check_env``: gymnasium's checker on each of ``env_types``, warnings kept.
* ``resolve``: the env built with no env type and with the legacy one, and
  the factory logger's messages meanwhile.
* ``trajectory``: per env type one seeded episode with actions drawn up front,
  twice on one instance; each step as ``[obs digest, reward, terminated,
  truncated]``, the digest over the raw bytes of every observation leaf.
* ``monitor``: a short SB3 PPO learn (``MultiInputPolicy`` for a Dict
  observation) watched by a callback that counts seed 000 §6's progress lines
  and "No valid actions available" warnings.
* ``models``: load SB3 models and compare their spaces with the env's.
"""

from __future__ import annotations

import contextlib
import logging
import re
import warnings
from typing import Any, Callable, Dict, Iterator, List

if __package__:  # imported as part of runbook
    from . import envleaves
else:  # in the worker, started by path: this file's directory is on sys.path
    import envleaves  # type: ignore[no-redef,import-not-found]

DIGEST_HEX = 16
MONITOR_LOGGER = "runbook.monitoring"
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_SPACES = ("observation_space", "action_space")


def _error(exc: BaseException) -> str:
    return (type(exc).__name__ + ": " + str(exc))[:1000]


def _warning_text(caught: Any) -> List[str]:
    return [w.category.__name__ + ": " + _ANSI.sub("", str(w.message)).strip() for w in caught]


@contextlib.contextmanager
def _log_lines(name: Any, level: int = logging.INFO) -> Iterator[List[str]]:
    """Every record logged on ``name`` (root when None) as ``LEVEL logger: message``."""
    lines: List[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.levelname + " " + record.name + ": " + record.getMessage())

    logger, handler = logging.getLogger(name), Keep(level)
    previous = logger.level
    logger.addHandler(handler)
    if logger.getEffectiveLevel() > level:
        logger.setLevel(level)
    try:
        yield lines
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)


def _short(env: Any) -> str:
    return type(getattr(env, "unwrapped", env)).__name__


class Probes:
    """The probe calls of one worker."""

    def __init__(self, worker: Any, tools: Any, episodes: Any) -> None:
        """``tools`` is the envworker module, ``episodes`` the envepisodes module."""
        self.worker = worker
        self.tools = tools
        self.episodes = episodes

    def _make(self, args: Dict[str, Any], env_type: Any) -> Any:
        factory = self.tools.load_entry_point(args["factory"])
        config = self.worker._config(args.get("config"))
        kwargs = dict(args.get("kwargs") or {})
        if env_type is not None:
            kwargs["env_type"] = env_type
        return factory(config, **kwargs)

    def check_env(self, args: Dict[str, Any]) -> Dict[str, Any]:
        """Gymnasium's API checker on each env type."""
        from gymnasium.utils.env_checker import check_env

        results: Dict[str, Any] = {}
        for env_type in args["env_types"]:
            entry: Dict[str, Any] = {"class": None, "error": None, "warnings": []}
            results[env_type] = entry
            with warnings.catch_warnings(record=True) as built:
                warnings.simplefilter("always")
                try:
                    env = self._make(args, env_type)
                except Exception as exc:  # the target's failure is the finding
                    entry["error"] = "the factory failed: " + _error(exc)
                    continue
            entry["class"] = _short(env)
            entry["identity"] = self.tools.identity(env)
            entry["construction_warnings"] = _warning_text(built)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                try:
                    check_env(env, skip_render_check=True)
                except Exception as exc:
                    entry["error"] = _error(exc)
            entry["warnings"] = _warning_text(caught)
        return {"envs": results}

    def resolve(self, args: Dict[str, Any]) -> Dict[str, Any]:
        """Which env the factory builds with no env type, and with the legacy one."""
        found: Dict[str, Any] = {}
        for key, env_type in (("default", None), ("legacy", args.get("legacy", "legacy"))):
            with _log_lines(args.get("logger")) as lines:
                try:
                    env = self._make(args, env_type)
                except Exception as exc:  # the target's failure is the finding
                    found[key] = {"class": None, "error": _error(exc), "log": lines}
                    continue
            found[key] = {
                "class": _short(env),
                "identity": self.tools.identity(env),
                "error": None,
                "log": lines,
            }
        return found

    def _digest(self, obs: Any) -> str:
        return str(envleaves.digest(*envleaves.flatten(self.tools, obs)))[:DIGEST_HEX]

    def _run(self, env: Any, seed: int, actions: List[Any]) -> List[List[Any]]:
        obs, info = env.reset(seed=seed)
        steps: List[List[Any]] = [[self._digest(obs), None, None, None]]
        for action, share in actions:
            mask = self.episodes._mask_value(env, info)
            obs, reward, terminated, truncated, info = env.step(self._valid(action, share, mask))
            steps.append([self._digest(obs), float(reward), bool(terminated), bool(truncated)])
            if terminated or truncated:
                break
        return steps

    def _valid(self, action: Any, share: float, mask: Any) -> Any:
        """The drawn action, or when the env's mask forbids it the valid one ``share`` picks."""
        if mask is None or not isinstance(action, int):
            return action
        valid = self.tools._np().asarray(mask).ravel().nonzero()[0]
        if not valid.size or action in valid:
            return action
        return int(valid[min(int(share * valid.size), valid.size - 1)])

    def _actions(self, space: Any, seed: int, count: int) -> List[Any]:
        """Drawn up front from their own generator: the actions cannot depend on the env.

        Each comes with a share in [0, 1) that picks a valid action instead when
        the env's action mask forbids the drawn one.
        """
        rng = self.tools._np().random.default_rng(seed)
        if type(space).__name__ == "Discrete":
            start = int(getattr(space, "start", 0))
            drawn = [start + int(a) for a in rng.integers(int(space.n), size=count)]
        else:
            space.seed(seed)
            drawn = [space.sample() for _ in range(count)]
        shares = rng.random(count)  # drawn after the actions: those stay what they were
        return [(drawn[i], float(shares[i])) for i in range(count)]

    def trajectory(self, args: Dict[str, Any]) -> Dict[str, Any]:
        """Per env type: one seeded episode with fixed actions, run twice on one instance."""
        seed, count = int(args.get("seed", 0)), int(args.get("steps", 300))
        results: Dict[str, Any] = {}
        for env_type in args["env_types"]:
            entry: Dict[str, Any] = {"class": None, "runs": [], "error": None}
            try:
                env = self._make(args, env_type)
                entry["class"] = _short(env)
                actions = self._actions(env.action_space, seed, count)
                entry["runs"] = [self._run(env, seed, actions) for _ in range(2)]
            except Exception as exc:  # the target's failure is the finding
                entry["error"] = _error(exc)
            results[env_type] = entry
        return {"envs": results}

    def monitor(self, args: Dict[str, Any]) -> Dict[str, Any]:
        """A short PPO learn on the env the factory picks, watched by the callback."""
        import torch
        from stable_baselines3 import PPO

        torch.set_num_threads(1)  # small nets: threads cost more than they give
        env = self._make(args, None)
        callback = _monitoring_callback(self.tools._np(), int(args.get("log_every", 1000)))
        n_steps = int(args.get("n_steps", 200))
        dict_obs = type(env.observation_space).__name__ == "Dict"
        with _log_lines(MONITOR_LOGGER) as lines:
            model = PPO(
                "MultiInputPolicy" if dict_obs else "MlpPolicy",
                env,
                n_steps=n_steps,
                batch_size=max(2, n_steps // 2),
                n_epochs=2,
                seed=int(args.get("seed", 0)),
                device="cpu",
                verbose=0,
            )
            model.learn(total_timesteps=int(args.get("timesteps", 600)), callback=callback)
        found = {
            "class": _short(env),
            "identity": self.tools.identity(env),
            "policy": "MultiInputPolicy" if dict_obs else "MlpPolicy",
            "timesteps": int(model.num_timesteps),
            "log_every": int(args.get("log_every", 1000)),
            "lines": lines,
        }
        found.update(callback.summary())
        return found

    def models(self, args: Dict[str, Any]) -> Dict[str, Any]:
        """Load every model with SB3's ``algo``; compare its spaces with the env's."""
        import stable_baselines3
        import torch

        torch.set_num_threads(1)
        algo = getattr(stable_baselines3, args["algo"])
        env: Any = None
        report: Dict[str, Any] = {"built": False, "error": None}
        if args.get("factory") is None:
            report["skipped"] = "no [models] env in runbook.toml"
        else:
            try:
                env = self._model_env(args)
                report = {"built": True, "error": None, "class": _short(env)}
                report.update(_describe(env))
            except Exception as exc:  # the target's failure is the finding
                report["error"] = str(args["factory"]) + " failed: " + _error(exc)
        return {"env": report, "models": {p: _model(algo, p, env) for p in args["paths"]}}

    def _model_env(self, args: Dict[str, Any]) -> Any:
        factory = self.tools.load_entry_point(args["factory"])
        if args.get("config") is None and args.get("no_config"):
            return factory()
        return factory(self.worker._config(args.get("config")), **dict(args.get("kwargs") or {}))


def _describe(holder: Any) -> Dict[str, Any]:
    found = {}
    for name in _SPACES:
        space = getattr(holder, name)
        shape = getattr(space, "shape", None)
        found[name] = {
            "repr": repr(space),
            "shape": [int(n) for n in shape] if shape is not None else None,
        }
    return found


def _model(algo: Any, path: str, env: Any) -> Dict[str, Any]:
    try:
        model = algo.load(path, device="cpu")
    except Exception as exc:  # a corrupt or foreign zip is the finding
        return {"loaded": False, "error": _error(exc), "fits_env": None, "mismatches": []}
    entry: Dict[str, Any] = {"loaded": True, "error": None}
    entry.update(_describe(model))
    if env is None:
        entry.update(fits_env=None, mismatches=[])
        return entry
    mismatches = [
        "model %s %s does not match the env's %s" % (n, getattr(model, n), getattr(env, n))
        for n in _SPACES
        if getattr(model, n) != getattr(env, n)
    ]
    entry.update(fits_env=not mismatches, mismatches=mismatches)
    return entry


def _monitoring_callback(np: Any, log_every: int) -> Any:
    """Seed 000 §6's monitoring as an SB3 callback (the worker's copy of MonitoringCallback)."""
    from stable_baselines3.common.callbacks import BaseCallback

    log = logging.getLogger(MONITOR_LOGGER)

    class Monitoring(BaseCallback):
        def __init__(self) -> None:
            super().__init__(0)
            self.progress_count = 0
            self.saw_mask = False
            self.empty_masks: List[List[int]] = []
            self.episode_lengths: List[int] = []
            self.episode_steps: List[int] = []
            self.logged = 0

        def _on_training_start(self) -> None:
            self.episode_steps = [0] * self.training_env.num_envs

        def _on_step(self) -> bool:
            step = int(self.num_timesteps)
            if step // log_every > self.logged:
                self.logged = step // log_every
                self.progress_count += 1
                log.info("Step %d: reward=%.2f", step, float(self.locals["rewards"][0]))
            for index, info in enumerate(self.locals["infos"]):
                self.episode_steps[index] += 1
                mask = info.get("action_mask")
                if mask is not None:
                    self.saw_mask = True
                    if not np.any(mask):
                        self.empty_masks.append([step, self.episode_steps[index]])
                        log.warning("Step %d: No valid actions available", step)
                if self.locals["dones"][index]:
                    self.episode_lengths.append(self.episode_steps[index])
                    self.episode_steps[index] = 0
            return True

        def summary(self) -> Dict[str, Any]:
            return {
                "progress_count": self.progress_count,
                "warning_count": len(self.empty_masks),
                "saw_mask": self.saw_mask,
                "empty_masks": self.empty_masks,
                "episode_lengths": self.episode_lengths,
                "open_episode_steps": self.episode_steps,
            }

    return Monitoring()


def ops(worker: Any, tools: Any, episodes: Any) -> Dict[str, Callable[[Dict[str, Any]], Any]]:
    """The calls this module adds to a worker."""
    probes = Probes(worker, tools, episodes)
    found: Dict[str, Callable[[Dict[str, Any]], Any]] = {
        "check_env": probes.check_env,
        "resolve": probes.resolve,
        "trajectory": probes.trajectory,
        "monitor": probes.monitor,
        "models": probes.models,
    }
    return found
