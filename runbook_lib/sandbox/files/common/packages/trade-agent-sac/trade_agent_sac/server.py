"""The ``trade-agent`` service: a SAC trading policy behind HTTP on 127.0.0.1.

    PYTHONPATH=.site:. python -m trade_agent_sac.server \
        --model models/sac_v2.zip --state-file .run/trade-agent.json

``--config configs/sac_config.json`` instead of ``--model`` serves the model
the config names (its ``model_path``), so a rolled-back config picks the model.

* ``GET /health``   status, package version, model sha256, uptime
* ``POST /predict`` ``{"observation": [...]}`` -> ``{"action": [a], "position": a}``

The port is chosen free at start (bind to port 0) and written, with the pid,
to the state file as JSON (written atomically, removed on a clean exit).
SIGTERM and SIGINT stop the server cleanly: in-flight requests finish, the
state file goes, and the process exits 0.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import signal
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType
from typing import Any

from trade_agent_sac import __version__
from trade_agent_sac.protocol import MAX_BODY_BYTES, RequestError, parse_observation

LOOPBACK = "127.0.0.1"
_DRAIN_LIMIT_BYTES = 1 << 20


def sha256_file(path: Path) -> str:
    """Return the hex sha256 of a file."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


class Policy:
    """A loaded SB3 SAC model, safe to call from the server's threads."""

    def __init__(self, model_path: Path) -> None:
        from stable_baselines3 import SAC  # slow import: only once the arguments are checked

        self.path = model_path
        self.sha256 = sha256_file(model_path)
        self.model = SAC.load(str(model_path), device="cpu")
        shape = self.model.observation_space.shape
        if shape is None or len(shape) != 1:
            raise ValueError(f"{model_path}: expected a flat observation, the model has {shape}")
        self.observation_size = int(shape[0])
        self._lock = threading.Lock()  # torch modules are not documented as thread-safe

    def act(self, observation: list[float]) -> list[float]:
        """Return the deterministic action (target position) for one observation."""
        import numpy as np

        with self._lock:
            action, _ = self.model.predict(
                np.asarray(observation, dtype=np.float32), deterministic=True
            )
        return [
            float(x) for x in np.clip(np.asarray(action, dtype=np.float64).reshape(-1), -1.0, 1.0)
        ]


class AgentServer(ThreadingHTTPServer):
    """The HTTP server with the policy and its start time."""

    daemon_threads = True

    def __init__(self, port: int, policy: Policy) -> None:
        super().__init__((LOOPBACK, port), Handler)
        self.policy = policy
        self.started = time.monotonic()
        self.started_at = datetime.now(UTC).isoformat(timespec="seconds")

    @property
    def port(self) -> int:
        """The port the server is bound to."""
        return int(self.server_address[1])

    def health(self) -> dict[str, Any]:
        """What ``GET /health`` answers."""
        return {
            "status": "ok",
            "version": __version__,
            "model": str(self.policy.path),
            "model_sha256": self.policy.sha256,
            "observation_size": self.policy.observation_size,
            "uptime_s": round(time.monotonic() - self.started, 3),
            "started_at": self.started_at,
            "pid": os.getpid(),
        }


class Handler(BaseHTTPRequestHandler):
    """Routes ``/health`` and ``/predict``; every answer is JSON."""

    server: AgentServer
    protocol_version = "HTTP/1.1"
    timeout = 30
    # Headers and body go out in two writes: with Nagle on, a keep-alive client's
    # delayed ACK would hold the body back about 40 ms per request.
    disable_nagle_algorithm = True

    def _send(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        """Answer ``/health``."""
        if self.path == "/health":
            self._send(HTTPStatus.OK, self.server.health())
        elif self.path == "/predict":
            self._send(HTTPStatus.METHOD_NOT_ALLOWED, {"error": "use POST for /predict"})
        else:
            self._send(
                HTTPStatus.NOT_FOUND,
                {"error": f"no such path {self.path}; try /health or /predict"},
            )

    def do_POST(self) -> None:
        """Answer ``/predict``."""
        if self.path != "/predict":
            self._send(
                HTTPStatus.NOT_FOUND, {"error": f"no such path {self.path}; POST to /predict"}
            )
            return
        try:
            observation = parse_observation(self._read_body(), self.server.policy.observation_size)
        except RequestError as err:
            self._send(err.status, {"error": err.reason})
            return
        try:
            action = self.server.policy.act(observation)
        except Exception as err:  # a broken model must not take the server down
            self.log_error("predict failed: %r", err)
            self._send(HTTPStatus.INTERNAL_SERVER_ERROR, {"error": f"predict failed: {err}"})
            return
        if not all(math.isfinite(x) for x in action):
            self._send(
                HTTPStatus.INTERNAL_SERVER_ERROR,
                {"error": "the model produced a non-finite action"},
            )
            return
        self._send(HTTPStatus.OK, {"action": action, "position": action[0]})

    def _read_body(self) -> bytes:
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            self.close_connection = True
            raise RequestError(
                "send a Content-Length header with the JSON body", HTTPStatus.LENGTH_REQUIRED
            )
        if int(length) > MAX_BODY_BYTES:
            self._discard(int(length))
            raise RequestError(
                f"body of {length} bytes exceeds {MAX_BODY_BYTES}",
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
            )
        return self.rfile.read(int(length))

    def _discard(self, length: int) -> None:
        """Skip a refused body, so the client reads the answer instead of a reset connection."""
        if length > _DRAIN_LIMIT_BYTES:
            self.close_connection = True  # too much to read: the next bytes are not a request
            return
        while length > 0:
            chunk = self.rfile.read(min(length, 1 << 16))
            if not chunk:
                break
            length -= len(chunk)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Log only refused or failed requests: an access line per prediction costs latency."""
        if str(int(code) if isinstance(code, HTTPStatus) else code).startswith(("4", "5")):
            super().log_request(code, size)


def write_state(path: Path, state: dict[str, Any]) -> None:
    """Write the state file through a temporary file and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(state, handle, indent=2)
    os.replace(tmp, path)


def remove_state(path: Path) -> None:
    """Remove the state file if it still describes this process."""
    try:
        if json.loads(path.read_text(encoding="utf-8")).get("pid") == os.getpid():
            path.unlink()
    except (OSError, ValueError):
        pass


def serve(model: Path, state_file: Path, port: int) -> int:
    """Load the model, serve until SIGTERM or SIGINT, then clean up; return the exit code."""
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    server = AgentServer(port, Policy(model))
    url = f"http://{LOOPBACK}:{server.port}"
    health = server.health()
    state = {
        "pid": os.getpid(),
        "port": server.port,
        "url": url,
        "version": __version__,
        "model": str(model),
        "model_sha256": health["model_sha256"],
        "started_at": health["started_at"],
    }
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True
    )
    thread.start()
    write_state(state_file, state)
    print(
        f"trade-agent {__version__} serving {model} on {url} (pid {os.getpid()})",
        file=sys.stderr,
        flush=True,
    )
    while not stop.wait(0.5):
        pass
    server.shutdown()
    server.server_close()
    remove_state(state_file)
    print("trade-agent stopped", file=sys.stderr, flush=True)
    return 0


def model_from_config(config: Path) -> Path:
    """Return the ``model_path`` a SAC config names (relative to the working directory)."""
    data = json.loads(config.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not isinstance(data.get("model_path"), str):
        raise ValueError(f"{config} has no string key 'model_path'")
    return Path(data["model_path"])


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and serve."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--model", type=Path, help="SB3 SAC model zip")
    source.add_argument("--config", type=Path, help="SAC config whose model_path to serve")
    parser.add_argument("--state-file", type=Path, default=Path(".run/trade-agent.json"))
    parser.add_argument("--port", type=int, default=0, help="0 (default): any free port")
    args = parser.parse_args(argv)
    try:
        model: Path = args.model or model_from_config(args.config)
    except (OSError, ValueError) as err:
        print(f"trade-agent: cannot read the model path from {args.config}: {err}", file=sys.stderr)
        return 2
    if not model.is_file():
        print(
            f"trade-agent: model {model} does not exist (train or restore it first)",
            file=sys.stderr,
        )
        return 2
    if not 0 <= args.port <= 65535:
        print(f"trade-agent: --port {args.port} is not 0..65535", file=sys.stderr)
        return 2
    return serve(model, args.state_file, args.port)


if __name__ == "__main__":
    sys.exit(main())
