"""Service health and performance checks against the sandbox's real trade-agent service."""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from runbook_lib.base.errors import InvalidInputError
from runbook_lib.base.fsutil import sha256_file
from runbook_lib.sandbox.defects import inject_defect
from runbook_lib.target.manifest import Manifest, load_manifest
from runbook_lib.verify.checks.integrity import stable_models
from runbook_lib.verify.checks.performance import (
    PerformanceLimits,
    check_service_performance,
    observation_size,
    percentile,
)
from runbook_lib.verify.checks.service import check_service_health, start_service
from tests.svcutil import ServiceGuard, guarded_service


@pytest.fixture(scope="module")
def served(
    sandbox: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Manifest, ServiceGuard]]:
    """A copy of the sandbox whose release service runs for the whole module."""
    root = tmp_path_factory.mktemp("served") / "ws"
    shutil.copytree(sandbox, root, symlinks=True)
    with guarded_service(root) as guard:
        yield load_manifest(root), guard


def test_health_passes_with_the_release_version_and_model(
    served: tuple[Manifest, ServiceGuard],
) -> None:
    manifest, guard = served
    release_sha = sha256_file(manifest.root / "models" / "sac_v2.zip")
    result = check_service_health(
        manifest, expected_version="1.1.0", expected_model_sha256=release_sha
    )
    assert result.status == "pass", result.summary
    evidence = json.loads(json.dumps(result.evidence, allow_nan=False))
    assert evidence["status_code"] == 200 and evidence["body"]["version"] == "1.1.0"
    assert evidence["status"]["pid"] == guard.pids[0]
    assert evidence["url"].startswith("http://127.0.0.1:")
    assert f"version 1.1.0, model models/sac_v2.zip {release_sha[:12]}" in result.summary


def test_health_fails_on_the_wrong_version_and_model(served: tuple[Manifest, ServiceGuard]) -> None:
    manifest, _ = served
    stable_sha = stable_models(manifest)["models/sac_v1.zip"]
    result = check_service_health(
        manifest, expected_version="1.0.0", expected_model_sha256=stable_sha
    )
    assert result.status == "fail" and result.blocking
    assert "version '1.1.0', expected '1.0.0'" in result.summary
    assert f"expected {stable_sha[:12]}" in result.summary


def test_performance_passes_within_the_default_limits(
    served: tuple[Manifest, ServiceGuard],
) -> None:
    manifest, guard = served
    result = check_service_performance(manifest, requests=100)
    assert result.status == "pass", result.summary
    evidence = json.loads(json.dumps(result.evidence, allow_nan=False))
    assert evidence["requests"] == 100 and evidence["error_rate"] == 0.0
    assert (
        evidence["observation_size"] == 20
        and evidence["payload_shape_from"] == "/health observation_size"
    )
    assert 0 < evidence["p50_ms"] <= evidence["p95_ms"] <= evidence["max_ms"]
    assert evidence["rss_mb"] > 50 and evidence["pid"] == guard.pids[0]
    assert evidence["limits"] == PerformanceLimits().__dict__


def test_performance_fails_beyond_its_limits(served: tuple[Manifest, ServiceGuard]) -> None:
    manifest, _ = served
    limits = PerformanceLimits(max_p50_ms=0.0, max_rss_mb=1.0)
    result = check_service_performance(manifest, requests=20, limits=limits)
    assert result.status == "fail"
    assert "p50 latency" in result.summary and "> 0.0 ms" in result.summary
    assert "memory" in result.summary and "> 1.0 MB" in result.summary
    with pytest.raises(InvalidInputError, match="requests must be at least 1"):
        check_service_performance(manifest, requests=0)


@pytest.mark.slow
def test_the_payload_shape_falls_back_to_the_deployed_model(
    served: tuple[Manifest, ServiceGuard],
) -> None:
    manifest, _ = served
    assert observation_size(manifest, {}) == (20, "observation space of models/sac_v2.zip")


def test_checks_skip_when_the_service_was_never_started(fresh_sandbox: Path) -> None:
    manifest = load_manifest(fresh_sandbox)
    for result in (check_service_health(manifest), check_service_performance(manifest)):
        assert (result.status, result.blocking) == ("skip", False)
        assert "not running (no pidfile)" in result.summary and "--start-service" in result.summary


def test_a_killed_service_fails_both_checks(fresh_sandbox: Path) -> None:
    manifest = load_manifest(fresh_sandbox)
    with guarded_service(fresh_sandbox) as guard:
        os.kill(guard.pids[0], signal.SIGKILL)
        deadline = time.monotonic() + 10
        while guard.adapter.status().running and time.monotonic() < deadline:
            time.sleep(0.05)
        for result in (check_service_health(manifest), check_service_performance(manifest)):
            assert result.status == "fail" and result.blocking
            assert f"trade-agent is down: stale pidfile: pid {guard.pids[0]}" in result.summary


@pytest.mark.slow
def test_a_model_swapped_under_the_running_service_fails_health(fresh_sandbox: Path) -> None:
    manifest = load_manifest(fresh_sandbox)
    with guarded_service(fresh_sandbox):
        inject_defect(fresh_sandbox, "model-obs-mismatch")
        result = check_service_health(manifest, expected_version="1.1.0")
        assert result.status == "fail"
        assert "it serves models/sac_v2.zip as" in result.summary
        assert "but the file on disk is" in result.summary


@pytest.mark.slow
def test_start_service_starts_once_and_reports_it(fresh_sandbox: Path) -> None:
    manifest = load_manifest(fresh_sandbox)
    with guarded_service(fresh_sandbox, start=False) as guard:
        first = start_service(manifest)
        pid = guard.current_pid()
        assert (
            first.status == "pass" and first.summary == f"started trade-agent (pid {pid}), healthy"
        )
        assert first.evidence["health"]["healthy"] is True
        again = start_service(manifest)
        assert again.status == "pass" and again.summary == f"trade-agent already runs (pid {pid})"


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert (percentile(values, 0.5), percentile(values, 0.95), percentile([7.0], 0.95)) == (
        50.0,
        95.0,
        7.0,
    )
