"""Sandbox materialization time (cold and warm) and trade-agent /predict latency.

1. ``create_workspace`` with an empty model cache (cold: trains both models),
   then again with the same cache (warm: reuses them); prints both and warm/cold.
2. Starts the workspace's trade-agent service with the process adapter, sends
   ``--requests`` POST /predict (real observations of the release env) over one
   keep-alive connection and as many GET /health, interleaved so both see the
   same machine load, then the same /predict load with a new connection per
   request. Prints p50/p95 latency, requests/s, and the ratios between them.

    python bench/bench_service.py [--requests 600] [--keep DIR]
"""

from __future__ import annotations

import argparse
import http.client
import importlib
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

from runbook_lib.sandbox import create_workspace
from runbook_lib.target.process import ProcessAdapter, ProcessSpec


def _percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _observations(root: Path, count: int) -> list[list[float]]:
    sys.path[:0] = [str(root)]
    try:
        config = importlib.import_module("src.rl.sac.config").load_config(
            root / "configs/sac_config.json"
        )
        env = importlib.import_module("src.rl.sac.sac_agent").make_env(config)
    finally:
        sys.path.remove(str(root))
    observations: list[list[float]] = []
    obs, _ = env.reset(seed=0)
    while len(observations) < count:
        observations.append([float(x) for x in obs])
        obs, _, terminated, truncated, _ = env.step(env.action_space.sample())
        if terminated or truncated:
            obs, _ = env.reset()
    return observations


def _timed(
    connection: http.client.HTTPConnection, method: str, path: str, body: bytes | None
) -> float:
    headers = {"Content-Type": "application/json"} if body else {}
    started = time.perf_counter()
    connection.request(method, path, body=body, headers=headers)
    response = connection.getresponse()
    payload = response.read()
    elapsed = time.perf_counter() - started
    if response.status != 200:
        raise RuntimeError(f"{method} {path} answered {response.status}: {payload[:200]!r}")
    return elapsed


def _summary(name: str, samples: list[float], wall: float) -> dict[str, float]:
    p50, p95 = _percentile(samples, 0.50) * 1000, _percentile(samples, 0.95) * 1000
    rate = len(samples) / wall
    print(f"{name:<28} n={len(samples)}  p50 {p50:6.2f} ms  p95 {p95:6.2f} ms  {rate:7.1f} req/s")
    return {"p50_ms": p50, "p95_ms": p95, "req_per_s": rate}


def _load(port: int, observations: list[list[float]]) -> dict[str, dict[str, float]]:
    bodies = [json.dumps({"observation": obs}).encode() for obs in observations]
    keep = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    for body in bodies[:20]:  # warm-up: first torch calls are slower
        _timed(keep, "POST", "/predict", body)
    predict: list[float] = []
    health: list[float] = []
    started = time.perf_counter()
    for body in bodies:
        predict.append(_timed(keep, "POST", "/predict", body))
        health.append(_timed(keep, "GET", "/health", None))
    wall = time.perf_counter() - started
    keep.close()
    fresh: list[float] = []
    started_fresh = time.perf_counter()
    for body in bodies:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        fresh.append(_timed(connection, "POST", "/predict", body))
        connection.close()
    wall_fresh = time.perf_counter() - started_fresh
    share = sum(predict) / (sum(predict) + sum(health))  # split the interleaved wall time
    return {
        "predict_keepalive": _summary("POST /predict (keep-alive)", predict, wall * share),
        "health_keepalive": _summary("GET /health (keep-alive)", health, wall * (1 - share)),
        "predict_new_conn": _summary("POST /predict (new conn.)", fresh, wall_fresh),
    }


SERVER_ARGS = ("--model", "models/sac_v2.zip", "--state-file", ".run/trade-agent.json")


def _service(root: Path) -> ProcessAdapter:
    spec = ProcessSpec(
        name="trade-agent",
        command=(sys.executable, "-m", "trade_agent_sac.server", *SERVER_ARGS),
        cwd=root,
        pidfile=Path(".run/trade-agent.pid"),
        state_file=Path(".run/trade-agent.json"),
        env={"PYTHONPATH": ".site:."},
    )
    return ProcessAdapter(spec)


def _line(label: str, value: str) -> None:
    print(f"{label:<40} {value}")


def _materialize(base: Path) -> tuple[Path, dict[str, float]]:
    cache = base / "cache"
    cold = create_workspace(base / "ws-cold", cache_dir=cache)
    warm = create_workspace(base / "ws-warm", cache_dir=cache)
    for label, info in (("cold (empty cache)", cold), ("warm (same cache)", warm)):
        _line(f"create_workspace {label}", f"{info.seconds:6.2f} s  {info.artifacts['models']}")
    _line("  warm / cold", f"{warm.seconds / cold.seconds:6.3f}")
    return warm.root, {"cold_s": cold.seconds, "warm_s": warm.seconds}


def _serve_and_load(root: Path, requests: int) -> dict[str, dict[str, float]]:
    service = _service(root)
    started = time.perf_counter()
    pid = service.start().pid
    try:
        health = service.wait_healthy(timeout=120)
        if not health.healthy:
            raise RuntimeError(f"trade-agent did not become healthy: {health.error}")
        _line("service start to healthy", f"{time.perf_counter() - started:6.2f} s (pid {pid})")
        port = service.status().port
        if port is None:
            raise RuntimeError("the healthy service reports no port")
        load = _load(port, _observations(root, requests))
    finally:
        stopped = service.stop(timeout=10)
        how = f"{stopped.signal}, exit {stopped.exit_code}"
        _line("service stop", f"{stopped.seconds:6.2f} s ({how})")
    predict, health_p50 = load["predict_keepalive"], load["health_keepalive"]["p50_ms"]
    _line("  /predict p50 / /health p50", f"{predict['p50_ms'] / health_p50:6.2f}")
    fresh = load["predict_new_conn"]
    _line("  new-connection p50 / keep-alive p50", f"{fresh['p50_ms'] / predict['p50_ms']:6.2f}")
    return load


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=600, help="per measurement (>= 500)")
    parser.add_argument("--keep", type=Path, default=None, help="keep the workspaces here")
    args = parser.parse_args()
    if args.requests < 500:
        parser.error("--requests must be at least 500")
    base = Path(tempfile.mkdtemp(prefix="bench-service-")) if args.keep is None else args.keep
    try:
        root, materialize = _materialize(base)
        load = _serve_and_load(root, args.requests)
        print(json.dumps({"materialize": materialize, "service": load}))
    finally:
        if args.keep is None:
            shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
