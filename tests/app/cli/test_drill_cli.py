"""``runbook drill`` as the user runs it: progress on stderr, next commands at the end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.runutil import cli


@pytest.mark.slow
@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
def test_drill_reports_each_step_and_ends_with_the_next_commands(
    tmp_path: Path, model_cache: Path, as_json: bool
) -> None:
    archive = tmp_path / "archive"
    done = cli(
        "drill",
        "--scenario",
        "minor-slowdown",
        "--episodes",
        "2",
        "--archive",
        str(archive),
        "--cache-dir",
        str(model_cache),
        *(["--json"] if as_json else []),
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    progress = done.stderr.splitlines()
    assert "run 03_parity ..." in progress, done.stderr  # not a terminal: plain lines
    assert any(line.startswith("run 03_parity: ok (") for line in progress), done.stderr
    if as_json:
        report = json.loads(done.stdout)  # nothing but the JSON object on stdout
        assert report["ok"] and report["scenario"] == "minor-slowdown"
        return
    # What `make demo` shows on a warm machine fits one screen (issue: at most 40 lines).
    assert len(progress) + len(done.stdout.splitlines()) <= 40, done.stderr + done.stdout
    incident = next(
        line.split()[1] for line in done.stdout.splitlines() if line.startswith("incident ")
    )
    tail = done.stdout.strip().splitlines()[-4:]
    assert tail[0] == "next:"
    assert tail[1] == f"  runbook archive show {incident} --archive {archive.resolve()}"
    assert f"runbook archive report {incident}" in tail[2]
    assert str(archive.resolve() / "reports" / f"{incident}.tar.gz") in tail[2]
    postmortem = archive.resolve() / "incidents" / incident / "postmortem.md"
    assert tail[3] == f"  post-mortem: {postmortem}" and postmortem.is_file()
