"""The README's shell sessions, replayed through the installed CLI: they end verified and pushed.

The ``$ runbook ...`` lines of the main flow (sandbox, incident, decision,
rollback, parity, verification, notification, archive) are read from
README.md and run one by one, each in a fresh process, in a fresh sandbox under
a temporary HOME. That HOME's model cache starts as a copy of the session's
(the models the ``sandbox_info`` fixture trained or found), so ``sandbox create``
copies them instead of training them again (``tests/app/cli/test_sandbox_cli.py``
covers a training through the CLI). The incident ID and plan hash the README
shows are replaced by the ones the earlier commands printed; the push goes to a
moto S3 server on 127.0.0.1.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from runbook_lib.sandbox import WorkspaceInfo
from tests.runutil import cli

pytest.importorskip("s3fs", reason="the s3 extra is not installed: pip install -e '.[s3]'")

README = Path(__file__).resolve().parents[2] / "README.md"
# The README's sections whose sessions make the main flow, in order.
SESSIONS = (
    "A rollback by hand",
    "Parity and verification",
    "On object storage",
)
# Commands of the flow; the rest of those sessions shows alternatives
# (undo, an immediate rollback, a drill's incident) that the flow does not take.
FLOW = (
    "sandbox create",
    "incident open",
    "decide",
    "rollback plan",
    "rollback apply",
    "parity",
    "verify",
    "notify",
    "archive verify",
    "archive push",
)
INCIDENT_ID = re.compile(r"INC-\d{8}-\d{4}-[0-9a-f]{4}")
PLAN = re.compile(r"^plan ([0-9a-f]{64})$", re.MULTILINE)


@dataclass
class Step:
    """One ``$ ...`` line of a session and the output the README shows under it."""

    argv: list[str]
    shown: list[str] = field(default_factory=list)


def _sessions(text: str) -> list[Step]:
    steps: list[Step] = []
    heading, in_block = "", False
    for line in text.splitlines():
        if line.startswith("#"):
            heading = line.lstrip("# ").strip()
        elif line.startswith("```"):
            in_block = line.strip() == "```console" and heading in SESSIONS
        elif in_block and line.startswith("$ "):
            steps.append(Step(shlex.split(line[2:], comments=True)))
        elif in_block and steps:
            steps[-1].shown.append(line)
    return steps


def _in_flow(step: Step) -> bool:
    if step.argv[:1] == ["cd"]:
        return True
    words = " ".join(step.argv[1:3])
    return step.argv[:1] == ["runbook"] and any(name in (words, step.argv[1]) for name in FLOW)


def flow_steps() -> list[Step]:
    """The main flow's steps, in the README's order."""
    return [step for step in _sessions(README.read_text(encoding="utf-8")) if _in_flow(step)]


def _learn(step: Step, stdout: str, names: dict[str, str]) -> None:
    """Map the README's incident IDs and plan hashes to the ones this replay printed."""
    if step.argv[1:3] == ["incident", "open"] and step.shown:
        names[step.shown[0].strip()] = stdout.split(maxsplit=1)[0]
    shown, printed = PLAN.search("\n".join(step.shown)), PLAN.search(stdout)
    if step.argv[1:3] == ["rollback", "plan"] and shown and printed:
        names[shown.group(1)[:12]] = printed.group(1)[:12]


def _substitute(argv: list[str], names: dict[str, str]) -> list[str]:
    return [names.get(arg, arg) for arg in argv]


def test_the_readme_sessions_parse_into_the_whole_flow() -> None:
    steps = flow_steps()
    commands = [" ".join(s.argv) for s in steps]
    assert commands[:2] == ["runbook sandbox create ws", "cd ws"]
    for name in FLOW:
        assert any(c.startswith(f"runbook {name}") for c in commands), name
    ids = {m for s in steps for a in s.argv for m in INCIDENT_ID.findall(a)}
    assert len(ids) == 1, f"the flow's sessions name more than one incident: {ids}"


@pytest.mark.slow
def test_the_readme_flow_ends_verified_and_pushed(
    moto_endpoint: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    sandbox_info: WorkspaceInfo,  # its models fill model_cache
    model_cache: Path,
) -> None:
    import boto3

    boto3.client("s3", endpoint_url=moto_endpoint).create_bucket(Bucket="evidence")
    home = tmp_path / "home"
    # The default cache ($HOME/.cache/runbook) starts with the SAC models (and pip's .site)
    # that sandbox_info left in model_cache.
    shutil.copytree(model_cache / "sac", home / ".cache" / "runbook" / "sac")
    env = {
        "HOME": str(home),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "XDG_CACHE_HOME": str(home / ".cache"),
    }
    for name in [k for k in os.environ if k.startswith("RUNBOOK_")]:
        monkeypatch.delenv(name)  # the reader's shell has none of them set
    cwd, names = tmp_path, dict[str, str]()
    outcomes: dict[str, int] = {}
    for step in flow_steps():
        if step.argv[0] == "cd":
            cwd = cwd / step.argv[1]
            continue
        argv = _substitute(step.argv, names)
        done = cli(*argv[1:], cwd=cwd, env=env, timeout=600)
        assert done.returncode == 0, f"$ {shlex.join(argv)}\n{done.stdout}{done.stderr}"
        _learn(step, done.stdout, names)
        outcomes[" ".join(argv[1:3])] = done.returncode
        if argv[1:3] == ["sandbox", "create"]:  # the seeded cache was the one it read
            assert "(cache hit)" in done.stdout, done.stdout
        if argv[1:3] == ["archive", "push"]:
            assert done.stdout.startswith("ok "), done.stdout
    assert outcomes["archive verify"] == 0 and outcomes["archive push"] == 0
