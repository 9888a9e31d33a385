"""Run a command of the target in its own process, as every SAC/service check does.

The runbook never imports the target's code: a check runs the target's
command (or a probe module) in a child process with the target's root as
working directory and the environment :func:`target_env` builds: the
variables of the rollback (``.runbook/rollback.env``) applied, the manifest's
env switches of the calling shell removed (a check proves the recorded
rollback, not the operator's shell), and no bytecode written (a check leaves
nothing behind).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runbook_lib.target.envfile import read_rollback_env
from runbook_lib.target.manifest import Manifest

TAIL_LINES = 15


def target_env(manifest: Manifest) -> tuple[dict[str, str], dict[str, Any]]:
    """The environment of a check's child process, and evidence of what shaped it."""
    env = dict(os.environ)
    switches = [var.name for var in manifest.env.vars] if manifest.env else []
    dropped = sorted(name for name in switches if env.pop(name, None) is not None)
    rollback = read_rollback_env(manifest.root)
    env.update(rollback)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env, {"rollback_env": rollback, "switches_dropped_from_caller": dropped}


@dataclass(frozen=True)
class TargetRun:
    """A finished child process: its exit code (``None``: killed at the timeout) and output."""

    argv: list[str]
    cwd: str
    returncode: int | None
    stdout: str
    stderr: str
    seconds: float
    environment: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """It ran to the end and exited 0."""
        return self.returncode == 0

    def tail(self, lines: int = TAIL_LINES) -> list[str]:
        """The last lines of stderr, or of stdout when stderr is empty."""
        text = self.stderr.strip() or self.stdout.strip()
        return text.splitlines()[-lines:]

    def failure(self) -> str:
        """Why it did not succeed, in one line (empty when it did)."""
        if self.returncode is None:
            return f"timed out after {self.seconds:.0f} s and was killed"
        if self.returncode != 0:
            last = self.tail(1)
            return f"exited with {self.returncode}: {last[0] if last else 'no output'}"
        return ""

    def evidence(self) -> dict[str, Any]:
        """JSON-ready: the command, where it ran, its exit, time and output tail."""
        return {
            "argv": self.argv,
            "cwd": self.cwd,
            "returncode": self.returncode,
            "seconds": round(self.seconds, 3),
            "output_tail": self.tail(),
            **self.environment,
        }


def run_target(
    manifest: Manifest,
    argv: Sequence[str],
    *,
    timeout: float,
    cwd: Path | None = None,
    extra_env: dict[str, str] | None = None,
) -> TargetRun:
    """Run ``argv`` in the target (see the module docstring); past ``timeout`` it is killed."""
    env, evidence = target_env(manifest)
    env.update(extra_env or {})
    where = cwd or manifest.root
    started = time.perf_counter()
    try:
        proc = subprocess.Popen(
            list(argv),
            cwd=where,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
    except OSError as err:
        return TargetRun(
            list(argv),
            str(where),
            127,
            "",
            f"cannot run {argv[0]}: {err}",
            time.perf_counter() - started,
            evidence,
        )
    code, stdout, stderr, held = _finish(proc, started + timeout)
    if held:
        evidence = {**evidence, "output_held_open": HELD_NOTE}
    return TargetRun(
        list(argv), str(where), code, stdout, stderr, time.perf_counter() - started, evidence
    )


# A command that has exited but left a process holding its stdout or stderr (a server
# its tests started and did not stop) would otherwise keep the check waiting for that
# process to end: its output is read for this long after the exit, then the check goes on.
HELD_GRACE_S = 2.0
HELD_NOTE = (
    f"the command exited but another process kept its output open; "
    f"read for {HELD_GRACE_S:g} s more, then left (the output may be cut)"
)
_SLICE_S = 0.25


def _finish(proc: subprocess.Popen[bytes], deadline: float) -> tuple[int | None, str, str, bool]:
    """Exit code (None: killed at ``deadline``), stdout, stderr and whether the output was held."""
    exited_at: float | None = None
    while True:
        try:
            out, err = proc.communicate(timeout=_SLICE_S)
            return proc.returncode, _lines(out), _lines(err), False
        except subprocess.TimeoutExpired as exc:
            now = time.perf_counter()
            if proc.poll() is not None:
                exited_at = now if exited_at is None else exited_at
                if now - exited_at >= HELD_GRACE_S:
                    _close(proc)
                    return proc.returncode, _lines(exc.stdout), _lines(exc.stderr), True
            elif now >= deadline:
                proc.kill()
                proc.wait()
                _close(proc)
                return None, _lines(exc.stdout), _lines(exc.stderr), False


def _lines(data: bytes | None) -> str:
    """Decoded output with universal newlines, as ``text=True`` gives it."""
    text = data.decode(errors="replace") if data else ""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _close(proc: subprocess.Popen[bytes]) -> None:
    for stream in (proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()


def json_safe(value: Any) -> Any:
    """``value`` with every non-finite float (not JSON) replaced by its text, ``'nan'``."""
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if isinstance(value, dict):
        return {str(key): json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(item) for item in value]
    return value


def last_json_object(text: str) -> dict[str, Any] | None:
    """The JSON object a command printed: the whole output, or its last line that is one."""
    candidates = [text, *reversed(text.strip().splitlines())]
    for candidate in candidates:
        try:
            data = json.loads(candidate)
        except ValueError:
            continue
        if isinstance(data, dict):
            return data
    return None
