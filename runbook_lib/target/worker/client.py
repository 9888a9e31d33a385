"""Runbook's side of the env worker: start it, call it, turn its failures into one line.

:class:`EnvWorker` starts :data:`WORKER_FILE` under the target's interpreter
(by path: the worker imports nothing of runbook) and exchanges line-delimited
JSON with it. A worker that dies, hangs past its timeout or writes something
that is not the protocol raises :class:`WorkerError`, whose one-line message
names the interpreter, the call and the worker's last stderr lines; an error
raised by the target's own code inside a healthy worker is a
:class:`TargetCallError`.
"""

from __future__ import annotations

import collections
import json
import os
import queue
import subprocess
import threading
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from runbook_lib.base.errors import EXIT_CHECK_FAILED, RunbookError
from runbook_lib.target.worker.envworker import PROTOCOL, decode_tree, encode_tree

WORKER_FILE = Path(__file__).with_name("envworker.py")
DEFAULT_TIMEOUT_S = 60.0
_STDERR_KEPT = 5


class WorkerError(RunbookError):
    """The worker process died, hung or broke the protocol."""

    exit_code = EXIT_CHECK_FAILED


class TargetCallError(RunbookError):
    """The target's code raised inside the worker (the worker itself is fine)."""

    exit_code = EXIT_CHECK_FAILED

    def __init__(
        self, message: str, *, kind: str, detail: str = "", hint: str | None = None
    ) -> None:
        """Keep the target's exception type and message for callers that report them."""
        self.kind = kind
        self.detail = detail
        super().__init__(message, hint=hint)


class EnvWorker:
    """One worker process of the target's interpreter, rooted at the target.

    Use as a context manager; :meth:`close` stops the process it started by
    its own handle, never by name.
    """

    def __init__(
        self,
        python: str | Path,
        root: Path,
        *,
        env: Mapping[str, str] | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        """Start the worker; nothing is exchanged until the first call."""
        self.python = str(python)
        self.timeout_s = timeout_s
        self._ids = 0
        self._stderr: collections.deque[str] = collections.deque(maxlen=_STDERR_KEPT)
        self._lines: queue.Queue[str | None] = queue.Queue()
        environ = dict(os.environ if env is None else env)
        environ["PYTHONDONTWRITEBYTECODE"] = "1"
        # A notebook kernel's inline backend exists only in runbook's interpreter; the
        # target's matplotlib (imported by SB3) refuses it.
        if environ.get("MPLBACKEND", "").startswith("module://"):
            del environ["MPLBACKEND"]
        try:
            self._proc = subprocess.Popen(
                [self.python, str(WORKER_FILE), str(root)],
                cwd=root,
                env=environ,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                encoding="utf-8",
                bufsize=1,
            )
        except OSError as exc:
            raise WorkerError(
                f"cannot start the env worker with {self.python}: {exc.strerror}",
                hint="check [target] python in runbook.toml",
            ) from exc
        self._pump(self._proc.stdout, self._lines.put)
        self._stderr_pump = self._pump(self._proc.stderr, self._keep_stderr)

    @property
    def pid(self) -> int:
        """The worker's process id."""
        return self._proc.pid

    @property
    def alive(self) -> bool:
        """Whether the worker process is still running."""
        return self._proc.poll() is None

    def _keep_stderr(self, line: str | None) -> None:
        if line is not None and line.strip():
            self._stderr.append(line.rstrip()[:300])

    @staticmethod
    def _pump(stream: IO[str] | None, sink: Any) -> threading.Thread:
        def run() -> None:
            for line in stream or ():
                sink(line)
            sink(None)

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        return thread

    def _fail(self, call: str, what: str) -> WorkerError:
        if self._proc.poll() is not None:
            self._stderr_pump.join(timeout=2)  # a dead worker's last words are the useful ones
        tail = " | ".join(self._stderr) or "(nothing)"
        return WorkerError(
            f"env worker ({self.python}) {call}: {what}; last stderr: {tail}",
            hint="run the call in the target's interpreter to see the whole traceback",
        )

    def call(self, op: str, timeout_s: float | None = None, **args: Any) -> Any:
        """Send one request and wait for its reply.

        Raises:
            WorkerError: the worker died, timed out or replied with garbage.
            TargetCallError: the target's code raised; the message names it.
        """
        self._ids += 1
        request = {"v": PROTOCOL, "id": self._ids, "op": op, "args": args}
        try:
            stdin = self._proc.stdin
            if stdin is None:
                raise OSError("no stdin")
            stdin.write(json.dumps(request, separators=(",", ":")) + "\n")
            stdin.flush()
        except OSError:
            raise self._fail(op, self._death()) from None
        reply = self._reply(op, timeout_s or self.timeout_s)
        if not reply.get("ok"):
            error = reply.get("error") or {}
            kind = str(error.get("type", "Error"))
            raise TargetCallError(
                f"{op} in the target's interpreter ({self.python}) raised "
                f"{kind}: {error.get('message', '')}",
                kind=kind,
                detail=str(error.get("message", "")),
            )
        return reply.get("result")

    def _reply(self, op: str, timeout_s: float) -> dict[str, Any]:
        try:
            line = self._lines.get(timeout=timeout_s)
        except queue.Empty:
            self._kill()
            raise self._fail(op, f"no answer within {timeout_s:g} s (stopped it)") from None
        if line is None:
            raise self._fail(op, self._death())
        try:
            reply = json.loads(line)
        except ValueError:
            self._kill()
            raise self._fail(op, f"wrote {line.strip()[:80]!r}, not the protocol") from None
        expected = (PROTOCOL, self._ids)
        if not isinstance(reply, dict) or (reply.get("v"), reply.get("id")) != expected:
            self._kill()
            raise self._fail(op, f"broke protocol {PROTOCOL}: {line.strip()[:80]!r}")
        return reply

    def _death(self) -> str:
        try:
            code = self._proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            return "closed its output but is still running"
        return f"the worker died (exit code {code})"

    def _kill(self) -> None:
        if self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait(timeout=10)

    def close(self) -> None:
        """Ask the worker to stop; stop it by its pid if it does not."""
        if self._proc.poll() is None:
            try:
                self.call("shutdown", timeout_s=5)
                self._proc.wait(timeout=5)
            except (RunbookError, subprocess.TimeoutExpired):
                pass
        self._kill()
        for stream in (self._proc.stdin, self._proc.stdout, self._proc.stderr):
            if stream is not None:
                stream.close()

    def __enter__(self) -> EnvWorker:
        """The worker itself."""
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        """Stop the worker."""
        self.close()


class RemoteEnv:
    """An env built by the target's factory inside a worker, used like a Gymnasium env.

    Attributes:
        built: The worker's answer to ``build``: identity and both spaces.
    """

    def __init__(self, worker: EnvWorker, handle: str, built: dict[str, Any]) -> None:
        """Wrap a built env; see :func:`build_env`."""
        self.worker = worker
        self.handle = handle
        self.built = built

    def reset(self, seed: int | None = None) -> tuple[Any, dict[str, Any], Any]:
        """Observation, info and action mask (or None) after ``reset(seed=seed)``."""
        out = self.worker.call("reset", handle=self.handle, seed=seed)
        return decode(out["obs"]), decode_info(out["info"]), decode(out["mask"])

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any], Any]:
        """Observation, reward, terminated, truncated, info and mask after one step."""
        out = self.worker.call("step", handle=self.handle, action=encode_action(action))
        return (
            decode(out["obs"]),
            float(out["reward"]),
            bool(out["terminated"]),
            bool(out["truncated"]),
            decode_info(out["info"]),
            decode(out["mask"]),
        )

    def fingerprint(self, seed: int = 0, steps: int = 20) -> str:
        """sha256 of a fixed-seed trajectory (every leaf's bytes and the rewards)."""
        return str(self.worker.call("digest", handle=self.handle, seed=seed, steps=steps)["sha256"])

    def close(self) -> None:
        """Close the env in the worker."""
        self.worker.call("close", handle=self.handle)


def build_env(
    worker: EnvWorker,
    factory: str,
    env_type: str | None,
    *,
    handle: str = "env",
    config: dict[str, Any] | None = None,
    kwargs: Mapping[str, Any] | None = None,
    logger: str | None = None,
) -> RemoteEnv:
    """Build an env through the target's factory inside ``worker``.

    ``config`` is ``{"loader": "mod:fn", "file": path}``, ``{"builder": "mod:fn"}``
    or ``{"value": settings}`` (passed as they are); ``logger`` names the
    target's logger whose messages during the build come back in ``built["log"]``.
    """
    built = worker.call(
        "build",
        handle=handle,
        factory=factory,
        env_type=env_type,
        config=config,
        kwargs=dict(kwargs or {}),
        logger=logger,
    )
    return RemoteEnv(worker, handle, built)


def encode_action(action: Any) -> dict[str, Any]:
    """An action (int, array, dict or tuple of them) in the protocol's tree form."""
    return encode_tree(action)


def decode(tree: dict[str, Any] | None) -> Any:
    """A protocol tree back as numpy arrays (dicts and tuples kept)."""
    return None if tree is None else decode_tree(tree)


def decode_info(value: Any) -> Any:
    """An ``info`` from the worker with its arrays decoded again."""
    if isinstance(value, dict):
        if set(value) == {"__tree__"}:
            return decode_tree(value["__tree__"])
        return {key: decode_info(item) for key, item in value.items()}
    if isinstance(value, list):
        return [decode_info(item) for item in value]
    return value
