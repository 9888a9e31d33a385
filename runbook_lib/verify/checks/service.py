"""The running service: found, healthy, the expected version and model (seed 003 step 11).

Seed 003: "Monitor service health", ``curl http://localhost:8080/health``.

* :func:`check_service_health`: ``GET <health_path>`` answers 200 with
  ``status: ok``, the expected package version, the expected model sha256,
  and a model whose bytes are the ones on disk.
* :func:`runbook_lib.verify.checks.performance.check_service_performance`: CPU,
  memory, ``/predict`` latency and errors, built on :func:`locate` here.

A service that is not running (no pidfile) is a ``skip``: these checks never
start it (:func:`start_service` does, when asked). A pidfile whose process is
gone is a ``fail``: the service was meant to run and died. Every request goes
to 127.0.0.1 only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from runbook_lib.base.checknames import CheckName
from runbook_lib.base.errors import InvalidInputError, RunbookError
from runbook_lib.base.fsutil import sha256_file
from runbook_lib.base.report import CheckResult, timed
from runbook_lib.rollback.actions.servicectl import adapter_for
from runbook_lib.target.health import is_healthy, probe
from runbook_lib.target.manifest import Manifest
from runbook_lib.target.service import ServiceStatus

HEALTH = CheckName.SERVICE_HEALTH
START = CheckName.SERVICE_START


@dataclass(frozen=True)
class Located:
    """The service's status and base URL, or the result that ends the check."""

    status: ServiceStatus | None
    url: str | None
    early: CheckResult | None


def locate(manifest: Manifest, name: str) -> Located:
    """Find the running service; a ``skip`` or ``fail`` result when there is nothing to check."""
    spec = manifest.service
    if spec is None:
        return Located(
            None, None, CheckResult(name, "skip", "runbook.toml has no [service]", blocking=False)
        )
    status = adapter_for(spec, manifest.root).status()
    if not status.running:
        # No pidfile (or an inactive unit): it was not meant to run. A pidfile whose
        # process is gone (or a failed unit): it died.
        stopped = status.pid is None if spec.adapter == "process" else status.detail == "inactive"
        if stopped:
            why = f"{spec.name}: {status.detail}; 'runbook verify --start-service' starts it"
            return Located(
                status, None, CheckResult(name, "skip", why, status.to_dict(), blocking=False)
            )
        why = f"{spec.name} is down: {status.detail} (it was started and died or was killed)"
        return Located(status, None, CheckResult(name, "fail", why, status.to_dict()))
    url = status.url or spec.health_url
    if url is None:
        why = f"{spec.name} runs (pid {status.pid}) but has not published its URL"
        return Located(status, None, CheckResult(name, "fail", why, status.to_dict()))
    base = url if spec.adapter == "process" else url.removesuffix(spec.health_path)
    return Located(status, base.rstrip("/"), None)


def get_health(manifest: Manifest, url: str) -> tuple[int | None, dict[str, Any], str | None]:
    """``GET`` the health path under ``url``: status code, JSON body, and why it failed."""
    path = manifest.service.health_path if manifest.service else "/health"
    try:
        code, body = probe(url + path, timeout=5.0)
    except (OSError, InvalidInputError) as err:
        return None, {}, f"GET {url}{path} failed: {err}"
    return code, body, None


def _served_model_problem(manifest: Manifest, body: dict[str, Any]) -> str | None:
    """The service's model should be the bytes now on disk (else it serves stale weights)."""
    model, served = body.get("model"), body.get("model_sha256")
    if not isinstance(model, str) or not isinstance(served, str):
        return None
    path = manifest.resolve(model)
    if not path.is_file():
        return f"it serves {model}, which is no longer on disk"
    on_disk = sha256_file(path)
    if on_disk != served:
        return f"it serves {model} as {served[:12]} but the file on disk is {on_disk[:12]}"
    return None


def _health_findings(
    manifest: Manifest,
    code: int | None,
    body: dict[str, Any],
    expected_version: str | None,
    expected_model_sha256: str | None,
) -> list[str]:
    problems: list[str] = []
    if code is not None and not is_healthy(code, body):
        problems.append(f"/health answered {code} with status {body.get('status')!r}")
    version = body.get("version")
    if expected_version is not None and version != expected_version:
        problems.append(f"version {version!r}, expected {expected_version!r}")
    sha = body.get("model_sha256")
    if expected_model_sha256 is not None and sha != expected_model_sha256:
        shown = sha[:12] if isinstance(sha, str) else repr(sha)
        problems.append(f"model sha256 {shown}, expected {expected_model_sha256[:12]}")
    stale = _served_model_problem(manifest, body)
    if stale:
        problems.append(stale)
    return problems


def check_service_health(
    manifest: Manifest,
    *,
    expected_version: str | None = None,
    expected_model_sha256: str | None = None,
) -> CheckResult:
    """``/health`` is 200 and ``ok``, with the expected version and model (when given).

    Args:
        manifest: The target.
        expected_version: The package version the service must report
            (``[package] stable_version`` after a rollback).
        expected_model_sha256: The sha256 the service's model must have (the
            stable model's, from the backup's checksum file, after a rollback).
    """
    with timed() as elapsed:
        found = locate(manifest, HEALTH)
        if found.early is not None or found.url is None or found.status is None:
            return found.early or CheckResult(HEALTH, "fail", "the service was not found")
        code, body, error = get_health(manifest, found.url)
        problems = (
            [error]
            if error
            else _health_findings(manifest, code, body, expected_version, expected_model_sha256)
        )
    evidence = {
        "status": found.status.to_dict(),
        "url": found.url,
        "status_code": code,
        "body": body,
        "expected_version": expected_version,
        "expected_model_sha256": expected_model_sha256,
        "problems": problems,
    }
    name = manifest.service.name if manifest.service else "service"
    if problems:
        return CheckResult(
            HEALTH, "fail", f"{name} unhealthy: " + "; ".join(problems), evidence, elapsed()
        )
    summary = (
        f"{name} healthy at {found.url} (pid {found.status.pid}): version "
        f"{body.get('version')}, model {body.get('model')} "
        f"{str(body.get('model_sha256'))[:12]}"
    )
    return CheckResult(HEALTH, "pass", summary, evidence, elapsed())


# --- starting it, when asked -------------------------------------------------------------


def start_service(manifest: Manifest, *, timeout: float = 60.0) -> CheckResult:
    """Start the service if it is not running and wait for its health check.

    Returns:
        ``service-start``: ``pass`` with the new pid (or that it already ran),
        ``fail`` when it did not become healthy.
    """
    spec = manifest.service
    if spec is None:
        return CheckResult(START, "skip", "runbook.toml has no [service]", blocking=False)
    adapter = adapter_for(spec, manifest.root)
    with timed() as elapsed:
        before = adapter.status()
        if before.running:
            return CheckResult(
                START,
                "pass",
                f"{spec.name} already runs (pid {before.pid})",
                before.to_dict(),
                elapsed(),
            )
        try:
            started = adapter.start()
        except RunbookError as err:
            return CheckResult(
                START, "fail", f"cannot start {spec.name}: {err}", before.to_dict(), elapsed()
            )
        health = adapter.wait_healthy(timeout)
    evidence = {
        "before": before.to_dict(),
        "started": started.to_dict(),
        "health": health.to_dict(),
    }
    if not health.healthy:
        return CheckResult(
            START,
            "fail",
            f"{spec.name} started (pid {started.pid}) but is not healthy: {health.error}",
            evidence,
            elapsed(),
        )
    return CheckResult(
        START, "pass", f"started {spec.name} (pid {started.pid}), healthy", evidence, elapsed()
    )
