"""The SAC agent in a created sandbox: models against their envs, and the trade-agent service."""

from __future__ import annotations

import http.client
import importlib
import json
import math
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from runbook_lib.sandbox.sac_artifacts import export_tree
from runbook_lib.target.process import ProcessAdapter, ProcessSpec
from tests.wsutil import workspace_on_path


def _check_and_evaluate(tree: Path, fits: Path, misfits: Path) -> dict[str, float]:
    """In ``tree``'s code: ``fits`` matches its env and evaluates; ``misfits`` does not match."""
    from stable_baselines3 import SAC

    with workspace_on_path(tree):
        config = importlib.import_module("src.rl.sac.config").load_config(
            tree / "configs/sac_config.json"
        )
        sac = importlib.import_module("src.rl.sac.sac_agent")
        env = sac.make_env(config)
        model = SAC.load(str(fits), device="cpu")
        assert sac.space_mismatches(model, env) == []
        mismatch = sac.space_mismatches(SAC.load(str(misfits), device="cpu"), env)
        assert len(mismatch) == 1 and mismatch[0].startswith("model observation_space")
        report = sac.evaluate(sac.SacAgent(model), config)
        assert report.to_dict() == sac.evaluate(sac.SacAgent(model), config).to_dict()
        mean: dict[str, float] = report.mean
        return mean


@pytest.mark.slow
def test_release_model_fits_the_release_env(sandbox: Path) -> None:
    mean = _check_and_evaluate(
        sandbox, sandbox / "models/sac_v2.zip", sandbox / "models/sac_v1.zip"
    )
    assert set(mean) == {"total_return", "sharpe", "max_drawdown", "turnover", "transaction_costs"}
    assert all(math.isfinite(v) for v in mean.values())
    assert mean["turnover"] > 0, "a trained agent trades"


@pytest.mark.slow
def test_stable_model_fits_the_stable_env(sandbox: Path, tmp_path: Path) -> None:
    stable = export_tree(sandbox, "v1.0", tmp_path / "v1")
    mean = _check_and_evaluate(stable, sandbox / "models/sac_v1.zip", sandbox / "models/sac_v2.zip")
    assert all(math.isfinite(v) for v in mean.values())


# -- the trade-agent service ------------------------------------------------------------


def trade_agent_spec(root: Path, *model_args: str) -> ProcessSpec:
    args = model_args or ("--model", "models/sac_v2.zip")
    return ProcessSpec(
        name="trade-agent",
        command=(
            sys.executable,
            "-m",
            "trade_agent_sac.server",
            *args,
            "--state-file",
            ".run/trade-agent.json",
        ),
        cwd=root,
        pidfile=Path(".run/trade-agent.pid"),
        state_file=Path(".run/trade-agent.json"),
        env={"PYTHONPATH": ".site:."},
    )


class Service:
    """The running trade-agent of this module, and every pid it ever had."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.adapter = ProcessAdapter(trade_agent_spec(root))
        self.pids: list[int] = []

    def start(self) -> None:
        status = self.adapter.start()
        assert status.pid is not None
        self.pids.append(status.pid)
        health = self.adapter.wait_healthy(timeout=60)
        assert health.healthy, health.error

    @property
    def port(self) -> int:
        port = self.adapter.status().port
        assert port is not None
        return port

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, Any]]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            return response.status, json.loads(response.read())
        finally:
            connection.close()

    def predict(self, payload: Any) -> tuple[int, dict[str, Any]]:
        return self.request(
            "POST", "/predict", json.dumps(payload).encode(), {"Content-Type": "application/json"}
        )


@pytest.fixture(scope="module")
def service(sandbox: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    import shutil

    root = tmp_path_factory.mktemp("service") / "ws"
    shutil.copytree(sandbox, root, symlinks=True)
    running = Service(root)
    try:
        running.start()
        yield running
    finally:
        running.adapter.stop(timeout=10)
        left = [pid for pid in running.pids if psutil.pid_exists(pid)]
        for pid in left:
            psutil.Process(pid).kill()
        assert not left, f"trade-agent processes left running: {left}"


@pytest.fixture(scope="module")
def observation(sandbox: Path) -> list[float]:
    """A real observation of the release env."""
    with workspace_on_path(sandbox):
        config = importlib.import_module("src.rl.sac.config").load_config(
            sandbox / "configs/sac_config.json"
        )
        obs, _ = importlib.import_module("src.rl.sac.sac_agent").make_env(config).reset(seed=1001)
    return [float(x) for x in obs]


@pytest.mark.slow
def test_health_reports_version_model_and_uptime(service: Service, sandbox: Path) -> None:
    from runbook_lib.base.fsutil import sha256_file

    code, body = service.request("GET", "/health")
    assert code == 200 and body["status"] == "ok" and body["version"] == "1.1.0"
    assert body["model_sha256"] == sha256_file(sandbox / "models/sac_v2.zip")
    assert body["observation_size"] == 20 and body["uptime_s"] >= 0
    state = json.loads((service.root / ".run/trade-agent.json").read_text())
    assert state["pid"] == service.pids[-1] and state["url"] == f"http://127.0.0.1:{state['port']}"
    assert {"version", "model_sha256", "started_at"} <= set(state)


@pytest.mark.slow
def test_predict_matches_the_agent_in_process(
    service: Service, sandbox: Path, observation: list[float]
) -> None:
    code, body = service.predict({"observation": observation})
    assert code == 200, body
    assert len(body["action"]) == 1 and -1.0 <= body["position"] <= 1.0
    import numpy as np

    with workspace_on_path(sandbox):
        agent = importlib.import_module("src.rl.sac.sac_agent").SacAgent.load(
            sandbox / "models/sac_v2.zip"
        )
        expected = agent.act(np.asarray(observation, dtype=np.float32))
    assert body["action"][0] == pytest.approx(float(expected[0]), abs=1e-6)


MALFORMED = {
    "bad JSON": (b'{"observation": [1, 2', "not valid JSON"),
    "not an object": (b"[1, 2, 3]", 'key "observation"'),
    "missing key": (b'{"obs": []}', 'key "observation"'),
    "wrong type": (b'{"observation": "0.1, 0.2"}', "must be a list of numbers"),
    "wrong shape": (
        json.dumps({"observation": [0.0] * 17}).encode(),
        "has 17 values; the model expects 20",
    ),
    "nested": (json.dumps({"observation": [[0.0] * 20]}).encode(), "has 1 values"),
    "NaN": (('{"observation": [NaN' + ", 0.0" * 19 + "]}").encode(), "NaN"),
    "infinity": (('{"observation": [1e999' + ", 0.0" * 19 + "]}").encode(), "must be finite"),
    "string item": (
        json.dumps({"observation": ["x"] + [0.0] * 19}).encode(),
        "observation[0] is str",
    ),
    "bool item": (
        json.dumps({"observation": [0.0] * 19 + [True]}).encode(),
        "observation[19] is bool",
    ),
    "not UTF-8": (b'{"observation": "\xff"}', "not UTF-8"),
    "5000-digit integer": (
        ('{"observation": [' + "9" * 5000 + ", 0.0" * 19 + "]}").encode(),
        "cannot represent",
    ),
    "integer too large for a float": (
        ('{"observation": [' + "9" * 400 + ", 0.0" * 19 + "]}").encode(),
        "too large for a float",
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_predict_gets_400_with_a_reason(service: Service, case: str) -> None:
    body, reason = MALFORMED[case]
    code, answer = service.request("POST", "/predict", body, {"Content-Type": "application/json"})
    assert code == 400 and reason in answer["error"], answer


@pytest.mark.slow
def test_other_refusals(service: Service) -> None:
    assert service.request("GET", "/predict")[0] == 405
    assert service.request("GET", "/nope")[0] == 404
    assert service.request("POST", "/predict", b"x" * 70_000)[0] == 413
    assert service.request("GET", "/health")[0] == 200, "the server survives what it refused"


@pytest.mark.slow
def test_restart_serves_again_with_a_new_process(
    service: Service, observation: list[float]
) -> None:
    old = service.pids[-1]
    status = service.adapter.restart(timeout=10)
    assert status.pid is not None and status.pid != old
    service.pids.append(status.pid)
    assert not psutil.pid_exists(old)
    health = service.adapter.wait_healthy(timeout=60)
    assert health.healthy and health.body["pid"] == status.pid
    assert service.predict({"observation": observation})[0] == 200


@pytest.mark.slow
def test_sigterm_stops_cleanly(sandbox: Path, tmp_path: Path) -> None:
    import shutil

    root = tmp_path / "ws"
    shutil.copytree(sandbox, root, symlinks=True)
    adapter = ProcessAdapter(trade_agent_spec(root, "--config", "configs/sac_config.json"))
    pid = adapter.start().pid
    try:
        health = adapter.wait_healthy(timeout=60)
        assert health.healthy and health.body["model"] == "models/sac_v2.zip"
    finally:
        result = adapter.stop(timeout=10)
    assert (result.signal, result.exit_code) == ("SIGTERM", 0)
    assert pid is not None and not psutil.pid_exists(pid)
    assert not (root / ".run/trade-agent.json").exists()
    assert "trade-agent stopped" in (root / ".run/trade-agent.log").read_text()


def test_server_refuses_a_missing_model_before_loading_anything(sandbox: Path) -> None:
    import subprocess

    proc = subprocess.run(
        [sys.executable, "-m", "trade_agent_sac.server", "--model", "models/none.zip"],
        cwd=sandbox,
        env={"PYTHONPATH": ".site:.", "PYTHONDONTWRITEBYTECODE": "1"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2
    assert "model models/none.zip does not exist" in proc.stderr
