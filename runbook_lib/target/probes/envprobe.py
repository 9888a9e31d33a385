"""The child side of the env checks: run in the target's own process, write JSON.

``python -m runbook_lib.target.probes.envprobe PROBE --factory MODULE:FUNC --out FILE ...``
runs with the target's root as working directory and the environment the
parent chose (the rollback's variables applied). It imports the target's code,
does one probe and writes one JSON object to ``--out``; the target may print
what it likes on stdout and stderr. :mod:`runbook_lib.verify.checks.env` turns that
object into a :class:`~runbook_lib.base.report.CheckResult`.

Probes:

* ``check-env``: gymnasium's ``check_env`` on each ``--env-type``, warnings kept.
* ``resolve``: the factory called without an env type, and with the legacy one,
  with the factory logger's lines.
* ``trajectory``: one seeded episode with fixed actions, twice on one instance.
* ``monitor``: a short SB3 PPO learn watched by the monitoring callback.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import logging
import re
import sys
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

DIGEST_HEX = 16  # 64 bits of sha256: plenty to tell two observations apart
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


class ListHandler(logging.Handler):
    """Keep every record as one ``LEVEL logger: message`` line."""

    def __init__(self, level: int) -> None:
        """Collect records at ``level`` and above."""
        super().__init__(level)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        """Store the record as a line."""
        self.lines.append(f"{record.levelname} {record.name}: {record.getMessage()}")


@contextlib.contextmanager
def captured_log(name: str | None, level: int = logging.INFO) -> Iterator[list[str]]:
    """Collect the lines logged on logger ``name`` (root when ``None``) inside the block."""
    logger = logging.getLogger(name)
    handler = ListHandler(level)
    previous = logger.level
    logger.addHandler(handler)
    if logger.getEffectiveLevel() > level:
        logger.setLevel(level)
    try:
        yield handler.lines
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)


def obs_digest(obs: Any) -> str:
    """The first :data:`DIGEST_HEX` hex digits of the sha256 of an observation's bytes."""
    import numpy as np

    data = np.ascontiguousarray(obs).tobytes()
    return hashlib.sha256(data).hexdigest()[:DIGEST_HEX]


def _warning_text(caught: list[warnings.WarningMessage]) -> list[str]:
    return [f"{w.category.__name__}: {_ANSI.sub('', str(w.message)).strip()}" for w in caught]


def _error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:1000]


def probe_check_env(factory: Callable[..., Any], args: argparse.Namespace) -> dict[str, Any]:
    """Gymnasium's API checker on each env type (seed 000, Phase 4 exit criteria)."""
    from gymnasium.utils.env_checker import check_env

    results: dict[str, Any] = {}
    for env_type in args.env_type:
        entry: dict[str, Any] = {"class": None, "error": None, "warnings": []}
        with warnings.catch_warnings(record=True) as built:
            warnings.simplefilter("always")
            try:
                env = factory(args.config, env_type=env_type)
            except Exception as exc:  # the target's failure is the finding
                entry["error"] = f"the factory failed: {_error_text(exc)}"
                results[env_type] = entry
                continue
        entry["class"] = type(env).__name__
        entry["construction_warnings"] = _warning_text(built)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                check_env(env, skip_render_check=True)
            except Exception as exc:
                entry["error"] = _error_text(exc)
        entry["warnings"] = _warning_text(caught)
        results[env_type] = entry
    return {"envs": results}


def probe_resolve(factory: Callable[..., Any], args: argparse.Namespace) -> dict[str, Any]:
    """Which env the factory builds with no env type, and which class is the legacy one."""
    found: dict[str, Any] = {}
    for key, kwargs in (("default", {}), ("legacy", {"env_type": args.legacy})):
        with captured_log(args.logger) as lines:
            try:
                env = factory(None, **kwargs)
            except Exception as exc:
                found[key] = {"class": None, "error": _error_text(exc), "log": lines}
                continue
        found[key] = {"class": type(env).__name__, "error": None, "log": lines}
    return found


def _trajectory(env: Any, seed: int, actions: list[int]) -> list[list[Any]]:
    obs, _ = env.reset(seed=seed)
    steps: list[list[Any]] = [[obs_digest(obs), None, None, None]]
    for action in actions:
        obs, reward, terminated, truncated, _ = env.step(action)
        steps.append([obs_digest(obs), float(reward), bool(terminated), bool(truncated)])
        if terminated or truncated:
            break
    return steps


def probe_trajectory(factory: Callable[..., Any], args: argparse.Namespace) -> dict[str, Any]:
    """Per env type: one seeded episode with fixed actions, run twice on one instance."""
    import numpy as np

    results: dict[str, Any] = {}
    for env_type in args.env_type:
        entry: dict[str, Any] = {"class": None, "runs": [], "error": None}
        try:
            env = factory(args.config, env_type=env_type)
            entry["class"] = type(env).__name__
            # Drawn up front from their own generator, the actions cannot depend on the env.
            rng = np.random.default_rng(args.seed)
            actions = [int(a) for a in rng.integers(int(env.action_space.n), size=args.steps)]
            entry["runs"] = [_trajectory(env, args.seed, actions) for _ in range(2)]
        except Exception as exc:  # the target's failure is the finding
            entry["error"] = _error_text(exc)
        results[env_type] = entry
    return {"envs": results}


def probe_monitor(factory: Callable[..., Any], args: argparse.Namespace) -> dict[str, Any]:
    """A short PPO learn on the env the factory picks, watched by the monitoring callback."""
    import torch
    from stable_baselines3 import PPO

    from runbook_lib.target.probes.monitoring import LOGGER_NAME, MonitoringCallback

    torch.set_num_threads(1)  # small nets: threads cost more than they give, and vary results
    env = factory(args.config)
    callback = MonitoringCallback(log_every=args.log_every)
    with captured_log(LOGGER_NAME) as lines:
        model = PPO(
            "MlpPolicy",
            env,
            n_steps=args.n_steps,
            batch_size=args.n_steps // 2,
            n_epochs=2,
            seed=args.seed,
            device="cpu",
            verbose=0,
        )
        model.learn(total_timesteps=args.timesteps, callback=callback)
    return {
        "class": type(env).__name__,
        "timesteps": int(model.num_timesteps),
        "log_every": args.log_every,
        "lines": lines,
        **callback.summary(),
    }


PROBES: dict[str, Callable[[Callable[..., Any], argparse.Namespace], dict[str, Any]]] = {
    "check-env": probe_check_env,
    "resolve": probe_resolve,
    "trajectory": probe_trajectory,
    "monitor": probe_monitor,
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("probe", choices=sorted(PROBES))
    parser.add_argument("--factory", required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--env-type", action="append", default=[])
    parser.add_argument("--config", type=json.loads, default=None)
    parser.add_argument("--logger", default=None)
    parser.add_argument("--legacy", default="legacy")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--timesteps", type=int, default=600)
    parser.add_argument("--n-steps", type=int, default=200)
    parser.add_argument("--log-every", type=int, default=1000)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one probe and write its JSON object to ``--out``."""
    from runbook_lib.target.entrypoint import load_entry_point

    args = _parser().parse_args(argv)
    sys.path.insert(0, str(Path.cwd()))
    factory = load_entry_point(args.factory)
    result = PROBES[args.probe](factory, args)
    args.out.write_text(json.dumps(result, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
