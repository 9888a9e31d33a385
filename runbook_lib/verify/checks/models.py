"""Models load with SB3, fit the env, and match the backup (seed 003 step 9, recovery step 2).

Seed 003: "Verify model loading/saving", "Check trading environment
compatibility", "Verify data integrity". One check, three findings per model:

* it loads with the manifest's stable-baselines3 class (``[models] algo``);
* the deployed model's observation and action spaces equal those of the env
  ``[models] env`` builds (the deployed one is the model the config's
  ``deployed_key`` names; without that key every model must fit);
* a model the backup lists has the backup's sha256.

The loading happens in the target's interpreter (the env worker's ``models``
call); reading the config and hashing happen here.
"""

from __future__ import annotations

from typing import Any

from runbook_lib.base.checknames import CheckName
from runbook_lib.base.fsutil import sha256_file
from runbook_lib.base.report import CheckResult, timed
from runbook_lib.target.manifest import Manifest
from runbook_lib.target.probes.modelprobe import deployed_model, load_config
from runbook_lib.target.specs import ModelsSpec
from runbook_lib.verify.checks.integrity import stable_models
from runbook_lib.verify.checks.probes import worker_call
from runbook_lib.verify.checks.targetproc import TargetRun

NAME = CheckName.MODELS


def model_files(manifest: Manifest, spec: ModelsSpec) -> list[str]:
    """The model files the glob matches, relative to the root, sorted."""
    return sorted(
        p.relative_to(manifest.root).as_posix()
        for p in manifest.root.glob(spec.glob)
        if p.is_file()
    )


def probe_models(
    manifest: Manifest, spec: ModelsSpec, models: list[str], *, timeout: float
) -> tuple[TargetRun, dict[str, Any] | None]:
    """Load the models and build ``[models] env`` in the target's interpreter (env worker).

    The config file is read here (it is data); the env worker's ``models`` call
    loads every model with SB3 and builds the env with it. Its run and result.
    """
    config, config_error = load_config(
        None if spec.env_config is None else str(manifest.resolve(spec.env_config))
    )
    deployed, deployed_error = deployed_model(config, spec.deployed_key)
    factory = spec.env if config_error is None else None
    run, result = worker_call(
        manifest,
        "models",
        timeout=timeout,
        factory=factory,
        algo=spec.algo,
        paths=models,
        config=None if config is None else {"value": config},
        no_config=config is None,
    )
    if result is None:
        return run, None
    env = result["env"]
    if config_error is not None:
        env = {"built": False, "error": config_error}
    elif spec.env is None:
        env = {"built": False, "error": None, "skipped": "no [models] env in runbook.toml"}
    found = {
        "algo": spec.algo,
        "env": env,
        "deployed": deployed,
        "deployed_error": deployed_error,
        "models": result["models"],
    }
    return run, found


def _findings(
    result: dict[str, Any], backed_up: dict[str, str], hashes: dict[str, str]
) -> list[str]:
    """Every reason to fail, one line each."""
    problems: list[str] = []
    env, deployed = result["env"], result["deployed"]
    if env.get("error"):
        problems.append(f"the env could not be built: {env['error']}")
    if result.get("deployed_error"):
        problems.append(result["deployed_error"])
    if deployed is not None and deployed not in result["models"]:
        problems.append(f"the deployed model {deployed} is not among the model files")
    for path, entry in result["models"].items():
        if not entry["loaded"]:
            problems.append(f"{path} does not load with {result['algo']}: {entry['error']}")
        elif entry["fits_env"] is False and (deployed is None or path == deployed):
            problems.append(f"{path}: " + "; ".join(entry["mismatches"]))
        if path in backed_up and hashes[path] != backed_up[path]:
            problems.append(
                f"{path} sha256 {hashes[path][:12]} differs from the backup's "
                f"{backed_up[path][:12]}"
            )
    return problems


def _evidence(
    result: dict[str, Any], backed_up: dict[str, str], hashes: dict[str, str]
) -> dict[str, Any]:
    models = {
        path: {**entry, "sha256": hashes[path], "backup_sha256": backed_up.get(path)}
        for path, entry in result["models"].items()
    }
    return {
        "algo": result["algo"],
        "env": result["env"],
        "deployed": result["deployed"],
        "models": models,
    }


def check_models(manifest: Manifest, *, timeout: float = 180.0) -> CheckResult:
    """Load every model with SB3, check the deployed one fits the env, compare with the backup."""
    spec = manifest.models
    if spec is None:
        return CheckResult(NAME, "skip", "runbook.toml has no [models]", blocking=False)
    with timed() as elapsed:
        models = model_files(manifest, spec)
        if not models:
            return CheckResult(
                NAME, "fail", f"no model file matches {spec.glob}", {"glob": spec.glob}, elapsed()
            )
        hashes = {path: sha256_file(manifest.resolve(path)) for path in models}
        backed_up = stable_models(manifest)
        run, result = probe_models(manifest, spec, models, timeout=timeout)
    if result is None:
        why = run.failure() or "it wrote no result"
        return CheckResult(
            NAME, "fail", f"the model probe failed: {why}", run.evidence(), elapsed()
        )
    problems = _findings(result, backed_up, hashes)
    evidence = {
        **_evidence(result, backed_up, hashes),
        "problems": problems,
        "probe": run.evidence(),
    }
    if problems:
        return CheckResult(NAME, "fail", "; ".join(problems), evidence, elapsed())
    fitting = result["deployed"] or f"all {len(models)} models"
    env_class = result["env"].get("class")
    fits = f"; {fitting} fits {env_class}" if env_class else ""
    matched = [p for p in models if p in backed_up]
    verb = "matches" if len(matched) == 1 else "match"
    backup = f"; {', '.join(matched)} {verb} the backup" if matched else ""
    summary = f"{len(models)} models load with {spec.algo}{fits}{backup}"
    return CheckResult(NAME, "pass", summary, evidence, elapsed())
