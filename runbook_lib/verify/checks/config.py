"""The config validates against the target's own schema (seed 003 step 7).

Seed 003: "Validate configuration files" with
``python scripts/validate_config.py configs/sac_config.json``. The
manifest names that command (``[checks] config_command``); the check runs it in
the target and passes when it exits 0. The validator's output lines are the
evidence: a good validator names each bad key.
"""

from __future__ import annotations

import sys

from runbook_lib.base.checknames import CheckName
from runbook_lib.base.report import CheckResult, timed
from runbook_lib.target.manifest import Manifest
from runbook_lib.verify.checks.targetproc import run_target

NAME = CheckName.CONFIG
_MAX_PROBLEMS = 50


def check_config(manifest: Manifest, *, timeout: float = 120.0) -> CheckResult:
    """Run the manifest's config validator in the target; pass when it exits 0."""
    checks = manifest.checks
    if checks is None or not checks.config_command:
        return CheckResult(
            NAME, "skip", "runbook.toml has no [checks] config_command", blocking=False
        )
    with timed() as elapsed:
        run = run_target(manifest, checks.config_argv(sys.executable), timeout=timeout)
    shown = " ".join(checks.config_command).replace("{python}", "python")
    lines = [line for line in (run.stderr + run.stdout).splitlines() if line.strip()]
    evidence = {**run.evidence(), "output": lines[:_MAX_PROBLEMS]}
    if run.ok:
        last = lines[-1] if lines else "no output"
        return CheckResult(NAME, "pass", f"{shown}: {last}", evidence, elapsed())
    if run.returncode is None:
        summary = f"{shown} {run.failure()}"
    else:
        problems = "; ".join(lines[:5]) or "no output"
        more = f" (+{len(lines) - 5} more)" if len(lines) > 5 else ""
        summary = f"{shown} exited with {run.returncode}: {problems}{more}"
    return CheckResult(NAME, "fail", summary, evidence, elapsed())
