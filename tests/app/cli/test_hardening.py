"""Small breaches found by attacking the CLI: each refused in one line, before anything happens."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from runbook_lib.base import crashpoints
from runbook_lib.base.fsutil import workspace_hash
from runbook_lib.evidence.seal import seal
from runbook_lib.incident.store import incident_dir, open_incident
from tests.runutil import cli


def one_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    return lines[0]


@pytest.mark.parametrize(
    "url", ["ftp://x/y", "http://example.invalid/a", "gs://bucket/p", "sftp://h/p"]
)
def test_push_accepts_only_paths_file_and_s3(
    tmp_path: Path, url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = tmp_path / "archive"
    incident = open_incident(store, "push", "low", "other").id
    # A resolver that fails loudly: the refusal must come before any network access.
    sitecustom = tmp_path / "site"
    sitecustom.mkdir()
    (sitecustom / "sitecustomize.py").write_text(
        "import socket\n"
        "def _no(*a, **k):\n    raise SystemExit('network access attempted')\n"
        "socket.getaddrinfo = _no\nsocket.create_connection = _no\n"
    )
    path = f"{sitecustom}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"
    proc = cli(
        "archive", "push", incident, "--to", url, "--archive", str(store), env={"PYTHONPATH": path}
    )
    assert proc.returncode == 2, proc.stderr
    line = one_line(proc.stderr)
    assert "file://" in line and "s3://" in line and "network access" not in line


def test_push_to_a_plain_path_and_file_url(tmp_path: Path) -> None:
    store = tmp_path / "archive"
    incident = open_incident(store, "push", "low", "other").id
    seal(store, incident_dir(store, incident), facts={})
    for dest in (str(tmp_path / "plain"), (tmp_path / "url").as_uri()):
        proc = cli("archive", "push", incident, "--to", dest, "--archive", str(store))
        assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["notify", "--incident", "X", "--template", "memo"],
        ["incident", "open", "--title", "t", "--severity", "urgent", "--kind", "crash"],
    ],
)
def test_choice_errors_are_one_line(tmp_path: Path, args: list[str]) -> None:
    proc = cli(*args, "--archive", str(tmp_path / "a"))
    assert proc.returncode == 2
    assert "is not one of" in one_line(proc.stderr)


def _config_plan(root: Path, store: Path) -> tuple[str, str]:
    incident = open_incident(store, "crash hooks", "critical", "crash").id
    proc = cli(
        "rollback",
        "plan",
        "--incident",
        incident,
        "--strategy",
        "config",
        "--json",
        "--target",
        str(root),
        "--archive",
        str(store),
    )
    assert proc.returncode == 0, proc.stderr
    return incident, json.loads(proc.stdout)["sha256"]


def test_a_stray_crash_variable_is_inert_without_the_marker(
    fresh_sandbox: Path, tmp_path: Path
) -> None:
    store = tmp_path / "archive"
    incident, plan = _config_plan(fresh_sandbox, store)
    proc = cli(
        "rollback",
        "apply",
        "--incident",
        incident,
        "--plan",
        plan,
        "--yes",
        "--target",
        str(fresh_sandbox),
        "--archive",
        str(store),
        env={"RUNBOOK_CRASH_AT": "1"},
    )
    assert proc.returncode == 0, proc.stderr
    assert "use_unified_env = false" in (fresh_sandbox / "config.ini").read_text()


def test_the_marker_and_the_variable_together_arm_the_hooks(
    fresh_sandbox: Path, tmp_path: Path
) -> None:
    store = tmp_path / "archive"
    incident, plan = _config_plan(fresh_sandbox, store)
    (fresh_sandbox / ".runbook").mkdir(exist_ok=True)
    (fresh_sandbox / crashpoints.MARKER).touch()
    before = workspace_hash(fresh_sandbox)
    alone = cli(
        "rollback",
        "apply",
        "--incident",
        incident,
        "--plan",
        plan,
        "--yes",
        "--target",
        str(fresh_sandbox),
        "--archive",
        str(store),
        env={"RUNBOOK_CRASH_AT": "1"},
    )
    assert alone.returncode == -9, alone.stderr
    assert workspace_hash(fresh_sandbox) == before
