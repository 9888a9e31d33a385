"""Service performance: CPU, memory, ``/predict`` latency and error rate (seed 003 step 12).

Seed 003: "Monitor system metrics: CPU and memory usage, Response times, Error
rates". :func:`check_service_performance` measures the running service's
process with psutil (CPU while idle, CPU under load, resident memory with its
children) and sends N sequential ``POST /predict`` requests on one keep-alive
connection to 127.0.0.1, with observations as long as ``/health`` says (or the
deployed model's observation space), then holds the p50 and p95 latency, the
error rate, the idle CPU and the memory to :class:`PerformanceLimits`.
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

from runbook_lib.base.checknames import CheckName
from runbook_lib.base.errors import InvalidInputError
from runbook_lib.base.report import CheckResult, timed
from runbook_lib.target.health import check_loopback_url
from runbook_lib.target.manifest import Manifest
from runbook_lib.verify.checks.service import get_health, locate

NAME = CheckName.SERVICE_PERFORMANCE
_MB = 1024 * 1024


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
    from runbook_lib.verify.checks.models import model_files, probe_models

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


def _measure(
    process: psutil.Process | None, url: str, size: int, requests: int, idle_s: float
) -> dict[str, Any]:
    """Idle CPU, then the load, then CPU and memory; no process (systemd): latency only."""
    idle_cpu = None
    if process is not None:
        process.cpu_percent(None)
        time.sleep(idle_s)
        idle_cpu = process.cpu_percent(None)
    send_predictions(url, "/predict", size, 3, seed=1)  # warm-up: first calls build caches
    started = time.perf_counter()
    load = send_predictions(url, "/predict", size, requests)
    seconds = time.perf_counter() - started
    return {
        "requests": requests,
        "observation_size": size,
        "seconds": round(seconds, 3),
        "p50_ms": round(percentile(load.latencies_ms, 0.50), 3),
        "p95_ms": round(percentile(load.latencies_ms, 0.95), 3),
        "max_ms": round(max(load.latencies_ms), 3),
        "error_rate": len(load.errors) / requests,
        "errors": load.errors[:10],
        "idle_cpu_percent": idle_cpu,
        "load_cpu_percent": process.cpu_percent(None) if process else None,
        "rss_mb": round(_rss_mb(process), 1) if process else None,
    }


def _over_limits(measured: dict[str, Any], limits: PerformanceLimits) -> list[str]:
    pairs = (
        ("p50_ms", limits.max_p50_ms, "p50 latency {:.1f} ms > {} ms"),
        ("p95_ms", limits.max_p95_ms, "p95 latency {:.1f} ms > {} ms"),
        ("error_rate", limits.max_error_rate, "error rate {:.1%} > {:.1%}"),
        ("idle_cpu_percent", limits.max_idle_cpu_percent, "idle CPU {:.0f}% > {}%"),
        ("rss_mb", limits.max_rss_mb, "memory {:.0f} MB > {} MB"),
    )
    return [
        text.format(measured[key], limit)
        for key, limit, text in pairs
        if measured[key] is not None and measured[key] > limit
    ]


def _shown(measured: dict[str, Any]) -> str:
    text = (
        f"{measured['requests']} /predict: p50 {measured['p50_ms']:.1f} ms, p95 "
        f"{measured['p95_ms']:.1f} ms, errors {measured['error_rate']:.1%}"
    )
    if measured["rss_mb"] is None:
        return text + "; CPU and memory not measured (no pid)"
    return (
        text + f"; idle CPU {measured['idle_cpu_percent']:.0f}%, memory {measured['rss_mb']:.0f} MB"
    )


def check_service_performance(
    manifest: Manifest,
    *,
    requests: int = 200,
    limits: PerformanceLimits | None = None,
    idle_s: float = 0.5,
) -> CheckResult:
    """CPU and memory of the service, and ``/predict`` latency and errors, within ``limits``.

    Raises:
        InvalidInputError: ``requests`` is not positive.
    """
    if requests < 1:
        raise InvalidInputError(f"requests must be at least 1, got {requests}")
    limits = limits or PerformanceLimits()
    with timed() as elapsed:
        found = locate(manifest, NAME)
        if found.early is not None or found.url is None or found.status is None:
            return found.early or CheckResult(NAME, "fail", "the service was not found")
        _, body, error = get_health(manifest, found.url)
        size, source = observation_size(manifest, body) if error is None else (None, error)
        evidence: dict[str, Any] = {
            "url": found.url,
            "pid": found.status.pid,
            "limits": asdict(limits),
            "payload_shape_from": source,
        }
        if size is None:
            return CheckResult(NAME, "fail", source, evidence, elapsed())
        try:
            process = psutil.Process(found.status.pid) if found.status.pid else None
            measured = _measure(process, found.url, size, requests, idle_s)
        except psutil.Error as err:
            return CheckResult(
                NAME, "fail", f"the service process vanished: {err}", evidence, elapsed()
            )
    evidence.update(measured)
    problems = _over_limits(measured, limits)
    shown = _shown(measured)
    if problems:
        return CheckResult(NAME, "fail", "; ".join(problems) + f" ({shown})", evidence, elapsed())
    return CheckResult(NAME, "pass", shown, evidence, elapsed())
