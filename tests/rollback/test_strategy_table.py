"""Every strategy ``rollback plan`` accepts, through the installed ``runbook``, one process a step.

Each row (enumerated from the strategy table, so a new strategy is a new row)
runs on its own copy of the session sandbox: plan, apply, verify, undo (the
workspace hash equals the one before), then an apply killed with SIGKILL at a
random side-effect point followed by ``resume`` (the workspace equals the applied
one) and, on another copy, ``resume --revert`` (it equals the one before). The
kill points come from a seeded random generator; the seed is printed so a
failure can be replayed with ``RUNBOOK_TABLE_SEED``.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
from pathlib import Path

import pytest

from runbook_lib.base import crashpoints
from runbook_lib.base.fsutil import workspace_hash
from runbook_lib.incident.store import open_incident
from runbook_lib.rollback.strategies import STRATEGIES
from tests.runutil import runbook_executable
from tests.svcutil import ServiceGuard

SEED = int(os.environ.get("RUNBOOK_TABLE_SEED", "20261202"))


def runbook(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [runbook_executable(), *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=600,
        check=False,
    )


class Row:
    """One strategy's copy of the sandbox, its archive, incident and plan; resettable."""

    def __init__(self, sandbox: Path, base: Path, strategy: str) -> None:
        self.run, self.pristine = base / "run", base / "pristine"
        self.target, self.archive = self.run / "ws", self.run / "archive"
        shutil.copytree(sandbox, self.target, symlinks=True)
        self.incident = open_incident(self.archive, f"table row {strategy}", "high", "other").id
        (self.target / ".runbook").mkdir(exist_ok=True)
        (self.target / crashpoints.MARKER).touch()  # the second switch of the crash hooks
        self.before = workspace_hash(self.target)
        planned = self.cli("rollback", "plan", "--strategy", strategy, "--json")
        assert planned.returncode == 0, planned.stderr
        self.plan = str(json.loads(planned.stdout)["sha256"])
        assert workspace_hash(self.target) == self.before, "planning changed the target"
        shutil.copytree(self.run, self.pristine, symlinks=True)
        self.service = ServiceGuard(self.target)

    def stop_service(self) -> None:
        """Stop, by pid, the service a rollback here started (the SAC rows restart it)."""
        left = self.service.stop_all()
        assert not left, f"service processes left running: {left}"

    def reset(self) -> None:
        """Back to the planned state, at the same path (the plan names the target's path)."""
        self.stop_service()  # it runs from the copy about to be deleted
        shutil.rmtree(self.run)
        shutil.copytree(self.pristine, self.run, symlinks=True)

    def cli(
        self, *args: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return runbook(
            *args,
            "--incident",
            self.incident,
            "--target",
            str(self.target),
            "--archive",
            str(self.archive),
            env=env,
        )

    def apply(self, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return self.cli("rollback", "apply", "--plan", self.plan, "--yes", env=env)


@pytest.mark.slow
@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
def test_strategy_row(sandbox: Path, tmp_path: Path, strategy: str) -> None:
    rng = random.Random(f"{SEED}:{strategy}")
    print(f"strategy table seed {SEED} (RUNBOOK_TABLE_SEED), row {strategy}")
    row = Row(sandbox, tmp_path, strategy)
    try:
        _check_row(row, rng, strategy, tmp_path / "points.log")
    finally:
        row.stop_service()


def _check_row(row: Row, rng: random.Random, strategy: str, log: Path) -> None:
    applied = row.apply(env={"RUNBOOK_CRASH_LOG": str(log)})
    assert applied.returncode == 0, applied.stdout + applied.stderr
    after = workspace_hash(row.target)
    verified = row.cli("verify", "--json")
    assert verified.returncode in (0, 1), verified.stderr  # a report, not a usage error
    report = json.loads(verified.stdout)
    print(f"  verify: ok={report['ok']} {report['counts']} failed: {report['failed_blocking']}")
    assert report["checks"], verified.stdout
    undone = row.cli("rollback", "undo", "--yes")
    assert undone.returncode == 0, undone.stdout + undone.stderr
    assert workspace_hash(row.target) == row.before

    points = [line.split("\t")[1] for line in log.read_text().splitlines()]
    assert points, "the apply reached no crash point"
    for revert in (False, True):
        number = rng.randint(1, len(points))
        row.reset()
        killed = row.apply(env={"RUNBOOK_CRASH_AT": str(number)})
        label = (strategy, number, points[number - 1], revert)
        assert killed.returncode == -9, (label, killed.stderr)
        status = json.loads(row.cli("rollback", "status", "--json").stdout)
        if status["interrupted"] is None:  # killed before "begin" reached the journal
            assert workspace_hash(row.target) == row.before, label
            continue
        resumed = row.cli("rollback", "resume", "--yes", *(["--revert"] if revert else []))
        assert resumed.returncode == 0, (label, resumed.stdout + resumed.stderr)
        status = json.loads(row.cli("rollback", "status", "--json").stdout)
        assert status["interrupted"] is None, (label, status)
        assert workspace_hash(row.target) == (row.before if revert else after), label
        print(
            f"  SIGKILL at point {number}/{len(points)} ({points[number - 1]}), "
            f"{'resume --revert' if revert else 'resume'}: consistent"
        )
