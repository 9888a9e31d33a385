"""The running service: health, version, model, and performance (seed 003 steps 11-12).

Seed 003: "Monitor service health", ``curl http://localhost:8080/health``,
"Monitor system metrics: CPU and memory usage, response times, error rates".

* :func:`check_service_health`: ``GET <health_path>`` answers 200 with
  ``status: ok``, the expected package version, the expected model sha256,
  and a model whose bytes are the ones on disk.
* :func:`check_service_performance`: the service process's idle CPU and
  memory (psutil), and the p50/p95 latency and error rate of N ``/predict``
  requests whose observation size comes from ``/health`` (or the deployed
  model's observation space).

A service that is not running (no pidfile) is a ``skip``: these checks never
start it (:func:`start_service` does, when asked). A pidfile whose process is
gone is a ``fail``: the service was meant to run and died. Every request goes
to 127.0.0.1 only.
"""

from __future__ import annotations

import http.client
import json
import math
import random
import time
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlsplit

import psutil

from runbook_lib.actions.servicectl import adapter_for
from runbook_lib.errors import InvalidInputError, RunbookError
from runbook_lib.fsutil import sha256_file
from runbook_lib.manifest import Manifest
from runbook_lib.report import CheckResult, timed
from runbook_lib.service import ServiceStatus, check_loopback_url, is_healthy, probe

HEALTH = "service.health"
PERFORMANCE = "service.performance"
START = "service.start"
_MB = 1024 * 1024


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
        return Located(None, None, CheckResult(name, "skip", "runbook.toml has no [service]",
                                               blocking=False))  # fmt: skip
    status = adapter_for(spec, manifest.root).status()
    if not status.running:
        # No pidfile (or an inactive unit): it was not meant to run. A pidfile whose
        # process is gone (or a failed unit): it died.
        stopped = status.pid is None if spec.adapter == "process" else status.detail == "inactive"
        if stopped:
            why = f"{spec.name}: {status.detail}; 'runbook verify --start-service' starts it"
            return Located(status, None, CheckResult(name, "skip", why, status.to_dict(),
                                                     blocking=False))  # fmt: skip
        why = f"{spec.name} is down: {status.detail} (it was started and died or was killed)"
        return Located(status, None, CheckResult(name, "fail", why, status.to_dict()))
    url = status.url or spec.health_url
    if url is None:
        why = f"{spec.name} runs (pid {status.pid}) but has not published its URL"
        return Located(status, None, CheckResult(name, "fail", why, status.to_dict()))
    base = url if spec.adapter == "process" else url.removesuffix(spec.health_path)
    return Located(status, base.rstrip("/"), None)


def _get_health(manifest: Manifest, url: str) -> tuple[int | None, dict[str, Any], str | None]:
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
    manifest: Manifest, code: int | None, body: dict[str, Any],
    expected_version: str | None, expected_model_sha256: str | None,
) -> list[str]:  # fmt: skip
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
    manifest: Manifest, *, expected_version: str | None = None,
    expected_model_sha256: str | None = None,
) -> CheckResult:  # fmt: skip
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
        code, body, error = _get_health(manifest, found.url)
        problems = [error] if error else []
        problems += _health_findings(manifest, code, body, expected_version, expected_model_sha256)
    evidence = {"status": found.status.to_dict(), "url": found.url, "status_code": code,
                "body": body, "expected_version": expected_version,
                "expected_model_sha256": expected_model_sha256, "problems": problems}  # fmt: skip
    name = manifest.service.name if manifest.service else "service"
    if problems:
        return CheckResult(HEALTH, "fail", f"{name} unhealthy: " + "; ".join(problems), evidence,
                           elapsed())  # fmt: skip
    summary = (f"{name} healthy at {found.url} (pid {found.status.pid}): version "
               f"{body.get('version')}, model {body.get('model')} "
               f"{str(body.get('model_sha256'))[:12]}")  # fmt: skip
    return CheckResult(HEALTH, "pass", summary, evidence, elapsed())


# --- performance -------------------------------------------------------------------------


@dataclass(frozen=True)
class PerformanceLimits:
    """Thresholds of :func:`check_service_performance`.

    Attributes:
        max_p50_ms: Median ``/predict`` latency.
        max_p95_ms: 95th percentile ``/predict`` latency.
        max_error_rate: Share of requests not answered 200 with JSON.
        max_idle_cpu_percent: CPU of the service process while nobody asks it
            anything (100 = one core): a busy idle service is spinning.
        max_rss_mb: Resident memory of the service and its children.
    """

    max_p50_ms: float = 50.0
    max_p95_ms: float = 250.0
    max_error_rate: float = 0.01
    max_idle_cpu_percent: float = 25.0
    max_rss_mb: float = 2048.0


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile (``share`` 0.95 for p95) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[rank - 1]


@dataclass
class _Load:
    latencies_ms: list[float]
    errors: list[str]


def _post(connection: http.client.HTTPConnection, path: str, body: bytes) -> str | None:
    """POST once; the reason it failed, or ``None``."""
    connection.request("POST", path, body, {"Content-Type": "application/json"})
    response = connection.getresponse()
    raw = response.read()
    if response.status != 200:
        return f"HTTP {response.status}: {raw[:200].decode(errors='replace')}"
    try:
        json.loads(raw)
    except ValueError:
        return "200 without a JSON body"
    return None


def send_predictions(url: str, path: str, size: int, count: int, *, seed: int = 0) -> _Load:
    """``count`` sequential ``POST path`` requests on one keep-alive connection."""
    parts = urlsplit(check_loopback_url(url + path))
    rng = random.Random(seed)
    load = _Load([], [])
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10.0)
    try:
        for _ in range(count):
            observation = [rng.uniform(-1.0, 1.0) for _ in range(size)]
            body = json.dumps({"observation": observation}).encode()
            started = time.perf_counter()
            try:
                error = _post(connection, path, body)
            except (OSError, http.client.HTTPException) as err:
                error = f"{type(err).__name__}: {err}"
                connection.close()  # the next request reconnects
            load.latencies_ms.append((time.perf_counter() - started) * 1000.0)
            if error:
                load.errors.append(error)
    finally:
        connection.close()
    return load


def _rss_mb(process: psutil.Process) -> float:
    total = process.memory_info().rss
    for child in process.children(recursive=True):
        try:
            total += child.memory_info().rss
        except psutil.Error:
            continue
    return total / _MB


def observation_size(manifest: Manifest, body: dict[str, Any]) -> tuple[int | None, str]:
    """The ``/predict`` observation length: from ``/health``, else the deployed model's space."""
    size = body.get("observation_size")
    if isinstance(size, int) and size > 0:
        return size, "/health observation_size"
    from runbook_lib.checks.models import model_files, probe_models

    spec = manifest.models
    if spec is None:
        return None, "/health has no observation_size and runbook.toml has no [models]"
    _, result = probe_models(manifest, spec, model_files(manifest, spec), timeout=180.0)
    deployed = (result or {}).get("deployed")
    entry = (result or {}).get("models", {}).get(deployed or "", {})
    shape = (entry.get("observation_space") or {}).get("shape")
    if not shape:
        return None, "neither /health nor the deployed model tells the observation's shape"
    return int(math.prod(shape)), f"observation space of {deployed}"


def _measure(process: psutil.Process, url: str, size: int, requests: int,
             idle_s: float) -> dict[str, Any]:  # fmt: skip
    process.cpu_percent(None)
    time.sleep(idle_s)
    idle_cpu = process.cpu_percent(None)
    send_predictions(url, "/predict", size, 3, seed=1)  # warm-up: first calls build caches
    started = time.perf_counter()
    load = send_predictions(url, "/predict", size, requests)
    seconds = time.perf_counter() - started
    return {
        "requests": requests, "observation_size": size, "seconds": round(seconds, 3),
        "p50_ms": round(percentile(load.latencies_ms, 0.50), 3),
        "p95_ms": round(percentile(load.latencies_ms, 0.95), 3),
        "max_ms": round(max(load.latencies_ms), 3),
        "error_rate": len(load.errors) / requests, "errors": load.errors[:10],
        "idle_cpu_percent": idle_cpu, "load_cpu_percent": process.cpu_percent(None),
        "rss_mb": round(_rss_mb(process), 1),
    }  # fmt: skip


def _over_limits(measured: dict[str, Any], limits: PerformanceLimits) -> list[str]:
    pairs = (("p50_ms", limits.max_p50_ms, "p50 latency {:.1f} ms > {} ms"),
             ("p95_ms", limits.max_p95_ms, "p95 latency {:.1f} ms > {} ms"),
             ("error_rate", limits.max_error_rate, "error rate {:.1%} > {:.1%}"),
             ("idle_cpu_percent", limits.max_idle_cpu_percent, "idle CPU {:.0f}% > {}%"),
             ("rss_mb", limits.max_rss_mb, "memory {:.0f} MB > {} MB"))  # fmt: skip
    return [text.format(measured[key], limit) for key, limit, text in pairs
            if measured[key] > limit]  # fmt: skip


def check_service_performance(
    manifest: Manifest, *, requests: int = 200, limits: PerformanceLimits | None = None,
    idle_s: float = 0.5,
) -> CheckResult:  # fmt: skip
    """CPU and memory of the service, and ``/predict`` latency and errors, within ``limits``.

    Raises:
        InvalidInputError: ``requests`` is not positive.
    """
    if requests < 1:
        raise InvalidInputError(f"requests must be at least 1, got {requests}")
    limits = limits or PerformanceLimits()
    with timed() as elapsed:
        found = locate(manifest, PERFORMANCE)
        if found.early is not None or found.url is None or found.status is None:
            return found.early or CheckResult(PERFORMANCE, "fail", "the service was not found")
        _, body, error = _get_health(manifest, found.url)
        size, source = observation_size(manifest, body) if error is None else (None, error)
        evidence: dict[str, Any] = {
            "url": found.url, "pid": found.status.pid, "limits": asdict(limits),
            "payload_shape_from": source,
        }  # fmt: skip
        if size is None or found.status.pid is None:
            why = source if size is None else "no pid to measure CPU and memory of"
            return CheckResult(PERFORMANCE, "fail", why, evidence, elapsed())
        try:
            measured = _measure(psutil.Process(found.status.pid), found.url, size, requests, idle_s)
        except psutil.Error as err:
            return CheckResult(PERFORMANCE, "fail", f"the service process vanished: {err}",
                               evidence, elapsed())  # fmt: skip
    evidence.update(measured)
    problems = _over_limits(measured, limits)
    shown = (f"{requests} /predict: p50 {measured['p50_ms']:.1f} ms, p95 {measured['p95_ms']:.1f} "
             f"ms, errors {measured['error_rate']:.1%}; idle CPU {measured['idle_cpu_percent']:.0f}"
             f"%, memory {measured['rss_mb']:.0f} MB")  # fmt: skip
    if problems:
        return CheckResult(PERFORMANCE, "fail", "; ".join(problems) + f" ({shown})", evidence,
                           elapsed())  # fmt: skip
    return CheckResult(PERFORMANCE, "pass", shown, evidence, elapsed())


# --- starting it, when asked -------------------------------------------------------------


def start_service(manifest: Manifest, *, timeout: float = 60.0) -> CheckResult:
    """Start the service if it is not running and wait for its health check.

    Returns:
        ``service.start``: ``pass`` with the new pid (or that it already ran),
        ``fail`` when it did not become healthy.
    """
    spec = manifest.service
    if spec is None:
        return CheckResult(START, "skip", "runbook.toml has no [service]", blocking=False)
    adapter = adapter_for(spec, manifest.root)
    with timed() as elapsed:
        before = adapter.status()
        if before.running:
            return CheckResult(START, "pass", f"{spec.name} already runs (pid {before.pid})",
                               before.to_dict(), elapsed())  # fmt: skip
        try:
            started = adapter.start()
        except RunbookError as err:
            return CheckResult(START, "fail", f"cannot start {spec.name}: {err}", before.to_dict(),
                               elapsed())  # fmt: skip
        health = adapter.wait_healthy(timeout)
    evidence = {"before": before.to_dict(), "started": started.to_dict(),
                "health": health.to_dict()}  # fmt: skip
    if not health.healthy:
        return CheckResult(START, "fail", f"{spec.name} started (pid {started.pid}) but is not "
                           f"healthy: {health.error}", evidence, elapsed())  # fmt: skip
    return CheckResult(START, "pass", f"started {spec.name} (pid {started.pid}), healthy",
                       evidence, elapsed())  # fmt: skip
