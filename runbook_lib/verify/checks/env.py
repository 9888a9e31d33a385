"""Env-side verification checks (seed 000 §4, §6, §8; seed 003 step 9).

Every check runs the target's code in a child process of the target through
:func:`runbook_lib.verify.checks.targetproc.run_target`: the target's root as working
directory, the rollback's variables (``.runbook/rollback.env``) applied, the
manifest's env switches of the calling shell removed (a check proves the
recorded rollback, not the operator's shell) and no bytecode written. The
probes the child runs are the env worker's (:mod:`runbook_lib.target.worker.envprobes`).
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from runbook_lib.base.checknames import CheckName
from runbook_lib.base.errors import RunbookError
from runbook_lib.base.report import CheckResult, Status, timed
from runbook_lib.target.interpreter import target_interpreter
from runbook_lib.target.manifest import Manifest
from runbook_lib.verify.checks.probes import (
    child_failed,
    factory_input,
    run_probe,
    skip,
)
from runbook_lib.verify.checks.targetproc import TargetRun, run_target

LEGACY, CANDIDATE = "legacy", "unified"
ENV_TYPES = (LEGACY, CANDIDATE)
SMOKE_ARGS = ("--episodes", "1", "--requests", "200")
MONITOR_CONFIG: dict[str, Any] = {"num_requests": 200}
_CHOSEN = re.compile(r"using (\w+) \((\w+)\)")


# --- check_env ---------------------------------------------------------------------------


def check_env_api(
    manifest: Manifest, env_types: Sequence[str] = ENV_TYPES, *, timeout: float = 120.0
) -> CheckResult:
    """Gymnasium's ``check_env`` on each env (seed 000 Phase 4: "passes gymnasium checker").

    Fails when the checker raises on any env (or the factory cannot build it);
    warns when it only warned. Its warnings are the evidence.
    """
    name = CheckName.CHECK_ENV
    if manifest.env is None:
        return skip(name, "runbook.toml has no [env] section")
    with timed() as elapsed:
        run, result = run_probe(
            manifest,
            manifest.env,
            "check_env",
            timeout=timeout,
            env_types=list(env_types),
            **factory_input(manifest),
        )
    if result is None:
        return child_failed(name, run, elapsed(), "the checker's process")
    envs: dict[str, Any] = result["envs"]
    failed = {t: e["error"] for t, e in envs.items() if e["error"]}
    warned = {t: e["warnings"] for t, e in envs.items() if e["warnings"]}
    status: Status = "fail" if failed else "warn" if warned else "pass"
    names = ", ".join(f"{t} ({e['class'] or 'not built'})" for t, e in envs.items())
    if failed:
        summary = "; ".join(f"{t}: {error}" for t, error in failed.items())
    elif warned:
        summary = f"check_env passed on {names} with {sum(map(len, warned.values()))} warning(s)"
    else:
        summary = f"check_env passed on {names} without warnings"
    return CheckResult(name, status, summary, {"envs": envs, **run.environment}, elapsed())


# --- factory resolution ------------------------------------------------------------------


def check_factory_resolution(
    manifest: Manifest, *, legacy: str = LEGACY, timeout: float = 120.0
) -> CheckResult:
    """The factory, called with no env type under the rollback, builds the legacy env.

    Seed 000 §1.1 ("all environments created via create_sim_env() will use
    GeneralSimEnv") and §8 ("Legacy environment is used (verify via logging)"):
    passes when the class built without an env type is the one built with
    ``env_type=legacy`` and the factory's log line says so; warns when the
    class is right but the factory logged nothing to prove it.
    """
    name = CheckName.FACTORY_RESOLUTION
    if manifest.env is None:
        return skip(name, "runbook.toml has no [env] section")
    with timed() as elapsed:
        run, result = run_probe(
            manifest,
            manifest.env,
            "resolve",
            timeout=timeout,
            logger=manifest.env.logger,
            legacy=legacy,
            **factory_input(manifest),
        )
    if result is None:
        return child_failed(name, run, elapsed(), "the factory's process")
    default, reference = result["default"], result["legacy"]
    evidence = {"default": default, "legacy": reference, **run.environment}
    status: Status
    if default["error"] or reference["error"]:
        status, summary = "fail", f"the factory failed: {default['error'] or reference['error']}"
    elif default["class"] != reference["class"]:
        status = "fail"
        summary = (
            f"with the rollback applied the factory still builds {default['class']}, "
            f"not the legacy {reference['class']}"
        )
    elif not (proof := [line for line in default["log"] if reference["class"] in line]):
        status = "warn"
        summary = (
            f"{default['class']} (legacy) is built, but no factory log line names it to prove it"
        )
    else:
        status, summary = "pass", f"legacy env chosen: {proof[-1]}"
    return CheckResult(name, status, summary, evidence, elapsed())


# --- determinism -------------------------------------------------------------------------

_STEP_FIELDS = ("obs", "reward", "terminated", "truncated")


def first_difference(first: list[list[Any]], second: list[list[Any]]) -> dict[str, Any] | None:
    """The first step and field at which two probe trajectories differ (``None``: identical)."""
    for step, (left, right) in enumerate(zip(first, second, strict=False)):
        for index, field in enumerate(_STEP_FIELDS):
            if left[index] != right[index]:
                return {"step": step, "field": field, "first": left[index], "second": right[index]}
    if len(first) != len(second):
        step = min(len(first), len(second))
        return {"step": step, "field": "length", "first": len(first), "second": len(second)}
    return None


def check_determinism(
    manifest: Manifest,
    env_types: Sequence[str] = ENV_TYPES,
    *,
    seed: int = 0,
    steps: int = 300,
    timeout: float = 120.0,
) -> CheckResult:
    """Same seed, same actions, twice: the trajectories must be identical.

    Seed 003 step 9 ("Check deterministic behavior") and seed 000 §4 (the
    rollback tests reset with a seed). Each env runs one seeded episode of at
    most ``steps`` steps with actions drawn up front, twice on one instance
    (state must not leak across resets) in each of two processes (nothing may
    depend on the process, such as hash seeds or unseeded generators); all
    four trajectories must agree on every observation, reward and flag.
    """
    name = CheckName.DETERMINISM
    if manifest.env is None:
        return skip(name, "runbook.toml has no [env] section")
    args = {"env_types": list(env_types), "seed": seed, "steps": steps, **factory_input(manifest)}
    with timed() as elapsed:
        runs = [
            run_probe(manifest, manifest.env, "trajectory", timeout=timeout, **args)
            for _ in range(2)
        ]
    results = [result for _, result in runs if result is not None]
    if len(results) < len(runs):
        broken = next(run for run, result in runs if result is None)
        return child_failed(name, broken, elapsed(), "a trajectory process")
    found: dict[str, Any] = {}
    for env_type in env_types:
        first, second = (result["envs"][env_type] for result in results)
        if first["error"] or second["error"]:
            found[env_type] = {
                "class": first["class"],
                "error": first["error"] or second["error"],
                "differences": {},
            }
            continue
        pairs = {
            "reset again in one process": (first["runs"][0], first["runs"][1]),
            "a second process": (first["runs"][0], second["runs"][0]),
        }
        differences = {how: first_difference(a, b) for how, (a, b) in pairs.items()}
        found[env_type] = {
            "class": first["class"],
            "steps": len(first["runs"][0]) - 1,
            "differences": {k: v for k, v in differences.items() if v},
        }
    crashed = [
        f"{t} ({e['class']}) failed: {e['error']}" for t, e in found.items() if e.get("error")
    ]
    bad = {t: e for t, e in found.items() if e["differences"]}
    if crashed or bad:
        parts = crashed + [
            f"{t} ({e['class']}) differs after {how} at step {d['step']} ({d['field']})"
            for t, e in bad.items()
            for how, d in e["differences"].items()
        ]
        return CheckResult(name, "fail", "; ".join(parts), {"envs": found, "seed": seed}, elapsed())
    names = ", ".join(f"{t} ({e['class']}, {e['steps']} steps)" for t, e in found.items())
    return CheckResult(
        name,
        "pass",
        f"identical trajectories twice in two processes: {names}",
        {"envs": found, "seed": seed},
        elapsed(),
    )


# --- training smoke run ------------------------------------------------------------------


def chosen_env(lines: Sequence[str]) -> dict[str, str] | None:
    """The class and env type named by the factory's ``using X (type)`` log line."""
    for line in reversed(lines):
        match = _CHOSEN.search(line)
        if match:
            return {"class": match.group(1), "env_type": match.group(2), "log": line.strip()}
    return None


def check_training_smoke(
    manifest: Manifest,
    args: Sequence[str] = SMOKE_ARGS,
    *,
    script: str | None = None,
    timeout: float = 300.0,
) -> CheckResult:
    """A short training run of the target's own script with the rollback applied.

    Seed 000 §1.1 ("run your training/evaluation as normal") and §8 ("Training
    scripts run without errors", "Legacy environment is used (verify via
    logging)"). The script is the manifest's code-level call site unless
    ``script`` names another; passes on exit 0 and records the env chosen.
    """
    name = CheckName.TRAINING_SMOKE
    site = manifest.env.call_site if manifest.env else None
    script = script or (site.file if site else None)
    if script is None:
        return skip(name, "runbook.toml names no [env.call_site] script to run")
    if not manifest.resolve(script).is_file():
        return CheckResult(
            name, "fail", f"{script} does not exist in {manifest.root}", {"script": script}
        )
    with timed() as elapsed:
        python = _python(manifest)
        run = run_target(manifest, [str(python), script, *args], timeout=timeout)
    lines = (run.stderr + "\n" + run.stdout).splitlines()
    logger = manifest.env.logger if manifest.env else None
    factory_log = [line for line in lines if logger and logger in line]
    chosen = chosen_env(factory_log or lines)
    evidence = {
        **run.evidence(),
        "env_chosen": chosen,
        "factory_log": factory_log[-5:],
        "stdout_tail": run.stdout.strip().splitlines()[-5:],
    }
    if not run.ok:
        return CheckResult(name, "fail", f"{script} {run.failure()}", evidence, elapsed())
    env_text = f"{chosen['class']} ({chosen['env_type']})" if chosen else "an env it did not log"
    return CheckResult(name, "pass", f"{script} ran to the end on {env_text}", evidence, elapsed())


def _python(manifest: Manifest) -> Path:
    """The target's interpreter (runbook's own when the manifest's cannot be used)."""
    try:
        return target_interpreter(manifest).path
    except RunbookError:
        return Path(sys.executable)


# --- monitoring ----------------------------------------------------------------------------


def repeated_episode_steps(
    empty_masks: Sequence[Sequence[int]], episode_lengths: Sequence[int]
) -> list[int]:
    """Episode steps with an empty mask in every episode that got that far (two at least).

    A full network empties masks at varying steps; the same step in every
    episode points at a defect.
    """
    episodes = len(episode_lengths)
    if episodes < 2:
        return []
    counts = Counter(episode_step for _, episode_step in empty_masks)
    return sorted(
        step
        for step, count in counts.items()
        if count == sum(1 for length in episode_lengths if length >= step) >= 2
    )


def check_monitoring(
    manifest: Manifest,
    *,
    timesteps: int = 600,
    log_every: int = 100,
    n_steps: int = 200,
    config: dict[str, Any] | None = None,
    timeout: float = 300.0,
) -> CheckResult:
    """A short SB3 PPO learn on the target's env with the seed 000 §6 monitoring callback.

    The env is the one the factory builds with the rollback applied (no env
    type given). Reports how many progress lines and "No valid actions
    available" warnings the callback logged, the rate of empty masks, and the
    episode steps at which every episode had one. Warns when any warning was
    logged; fails when the learn itself fails.
    """
    name = CheckName.MONITORING
    if manifest.env is None:
        return skip(name, "runbook.toml has no [env] section")
    chosen_config = MONITOR_CONFIG if config is None else config
    options = {"timesteps": timesteps, "log_every": log_every, "n_steps": n_steps}
    with timed() as elapsed:
        run, result = run_probe(
            manifest,
            manifest.env,
            "monitor",
            timeout=timeout,
            **options,
            **factory_input(manifest, chosen_config),
        )
    if result is None:
        return child_failed(name, run, elapsed(), "the PPO learn", blocking=False)
    return _monitoring_result(name, run, result, elapsed())


def _monitoring_result(
    name: str, run: TargetRun, data: dict[str, Any], elapsed: float
) -> CheckResult:
    lengths = list(data["episode_lengths"])
    if data["open_episode_steps"] and data["open_episode_steps"][0]:
        lengths.append(data["open_episode_steps"][0])  # the unfinished episode counts too
    repeated = repeated_episode_steps(data["empty_masks"], lengths)
    warnings_count, steps = data["warning_count"], max(1, data["timesteps"])
    lines = data["lines"]
    evidence = {
        "env_class": data["class"],
        "timesteps": data["timesteps"],
        "log_every": data["log_every"],
        "progress_lines": data["progress_count"],
        "warnings": warnings_count,
        "empty_mask_rate": warnings_count / steps,
        "episode_lengths": lengths,
        "repeated_episode_steps": repeated,
        "warnings_at_episode_step": sorted(Counter(s for _, s in data["empty_masks"]).items()),
        "repeated_warnings": [
            f"Step {step}: No valid actions available (step {episode_step} of its episode)"
            for step, episode_step in data["empty_masks"]
            if episode_step in repeated
        ],
        "first_lines": lines[:20],
        **run.environment,
    }
    where = f"{data['class']}, {data['timesteps']} PPO steps"
    if not data["saw_mask"]:
        summary = (
            f"{where}: the env reports no action mask; {data['progress_count']} progress lines"
        )
        return CheckResult(name, "pass", summary, evidence, elapsed, blocking=False)
    summary = (
        f"{where}: {data['progress_count']} progress lines, {warnings_count} "
        f"'No valid actions available' warnings ({warnings_count / steps:.1%} of steps)"
    )
    if repeated:
        summary += (
            f"; every one of the {len(lengths)} episodes had an empty mask at episode "
            f"step {', '.join(map(str, repeated))}: a defect, not a full network"
        )
    status: Status = "warn" if warnings_count else "pass"
    return CheckResult(name, status, summary, evidence, elapsed, blocking=False)
