"""Files dropped into the runbook's own directories are never sealed silently by the next command."""

from __future__ import annotations

import os
from pathlib import Path

from tests.runutil import cli


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "RUNBOOK_SIGNING_KEY"}


def test_forged_check_and_run_are_named_after_the_next_writing_command(tmp_path: Path) -> None:
    archive = tmp_path / "out"
    opened = cli(
        "incident",
        "open",
        "--title",
        "demo",
        "--severity",
        "high",
        "--kind",
        "crash",
        "--archive",
        str(archive),
        env=_env(),
        cwd=tmp_path,
    )
    assert opened.returncode == 0, opened.stderr
    (incident,) = (archive / "incidents").iterdir()
    (incident / "checks").mkdir()
    (incident / "checks" / "03-approval.json").write_text('{"approved": true}')
    (incident / "runs").mkdir()
    (incident / "runs" / "09-forged-approval.ipynb").write_text("{}")
    decided = cli(
        "decide",
        "--incident",
        incident.name,
        "--regression-pct",
        "33",
        "--archive",
        str(archive),
        env=_env(),
        cwd=tmp_path,
    )
    assert decided.returncode == 0, decided.stderr
    done = cli("archive", "verify", incident.name, "--archive", str(archive), env=_env())
    assert done.returncode == 1
    named = [line.split(" (found")[0].strip() for line in done.stdout.splitlines()[1:]]
    assert named == [
        f"{incident.name}: earlier: unrecorded file: checks/03-approval.json",
        f"{incident.name}: earlier: unrecorded file: runs/09-forged-approval.ipynb",
    ]  # the decision the command itself wrote is sealed, not named
