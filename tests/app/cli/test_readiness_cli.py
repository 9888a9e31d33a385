"""``runbook readiness``: every rollback rehearsed in a worktree of HEAD, the user's tree untouched.

Each step is the installed CLI in a fresh process, on a fresh sandbox.
"""

from __future__ import annotations

import json
import re
import sys
import tarfile
from pathlib import Path

import pytest

from runbook_lib.base.fsutil import workspace_hash
from runbook_lib.evidence.layout import READINESS_DIR
from runbook_lib.incident.store import incident_dir
from runbook_lib.rollback.actions.servicectl import adapter_for
from runbook_lib.target.gitutil import git
from runbook_lib.target.manifest import load_manifest
from runbook_lib.target.service import ServiceAdapter
from tests.runutil import cli

REHEARSED = [
    "env-var",
    "config",
    "code",
    "force",
    "now",
    "sac-full",
    "sac-code",
    "sac-deploy",
    "sac-data",
]
PHASES = ["plan", "apply", "effect", "tests", "undo"]


def worktrees(root: Path) -> list[str]:
    return [line for line in git(root, ["worktree", "list", "--porcelain"]).splitlines() if line]


@pytest.mark.slow
def test_every_env_strategy_is_ready_on_the_sandbox_and_its_tree_is_untouched(
    fresh_sandbox: Path, tmp_path: Path
) -> None:
    archive = tmp_path / "archive"
    before, trees = workspace_hash(fresh_sandbox), worktrees(fresh_sandbox)
    status = git(fresh_sandbox, ["status", "--porcelain"])
    opened = cli(
        "incident",
        "open",
        "--title",
        "nightly readiness",
        "--severity",
        "low",
        "--kind",
        "other",
        "--archive",
        str(archive),
        "--json",
    )
    incident = json.loads(opened.stdout)["id"]

    proc = cli(
        "readiness",
        "--target",
        str(fresh_sandbox),
        "--archive",
        str(archive),
        "--incident",
        incident,
        "--json",
        timeout=900,
    )

    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""  # nothing but the JSON object with --json
    data = json.loads(proc.stdout)
    rows = {row["strategy"]: row for row in data["strategies"]}
    assert [name for name in rows if rows[name]["readiness"] == "ready"] == REHEARSED
    for name in REHEARSED:
        assert [rows[name]["cells"][p]["status"] for p in PHASES] == ["pass"] * 5, rows[name]
    assert "GeneralSimEnv" in rows["config"]["cells"]["effect"]["reason"]
    assert "byte-identical" in rows["force"]["cells"]["undo"]["reason"]
    assert "v1.0" in rows["sac-code"]["cells"]["effect"]["reason"]
    for name, version in (("sac-full", "1.0.0"), ("sac-deploy", "1.0.0"), ("sac-data", "1.1.0")):
        effect = rows[name]["cells"]["effect"]["reason"]
        assert "copy on its own port" in effect and f"version {version}" in effect, effect
    assert data["ready"] is True
    assert data["target_tree"]["before"] == data["target_tree"]["after"] == before
    assert workspace_hash(fresh_sandbox) == before
    assert git(fresh_sandbox, ["status", "--porcelain"]) == status
    assert worktrees(fresh_sandbox) == trees  # the rehearsal's worktree is gone, and pruned
    for recorded in (incident, data["incident"]):
        assert (incident_dir(archive, recorded) / READINESS_DIR / "01-readiness.json").is_file()
    verified = cli("archive", "verify", "--archive", str(archive))
    assert verified.returncode == 0, verified.stdout + verified.stderr

    out = tmp_path / "report.tar.gz"
    made = cli("archive", "report", incident, "--out", str(out), "--archive", str(archive))
    assert made.returncode == 0, made.stderr
    with tarfile.open(out) as tar:
        member = tar.extractfile(f"{incident}/index.html")
        assert member is not None
        page = member.read().decode()
    section = page[page.index("<h2>Rollback readiness</h2>") :]
    assert f"Rehearsed at {data['head'][:12]}" in section and "unchanged" in section
    assert '<td>env-var</td><td class="pass">pass</td>' in section
    assert '<td class="pass">ready</td>' in section


def test_text_matrix_and_a_strategy_that_is_not_ready_exits_1_naming_the_reason(
    fresh_sandbox: Path, tmp_path: Path
) -> None:
    manifest = fresh_sandbox / "runbook.toml"
    text = manifest.read_text()
    manifest.write_text(
        text.replace('constant = "_FORCE_LEGACY_ENV"', 'constant = "_NO_SUCH_FLAG"')
    )
    git(fresh_sandbox, ["commit", "-qam", "a force constant the factory lacks"], isolated=True)
    before = workspace_hash(fresh_sandbox)

    proc = cli(
        "readiness",
        "--target",
        str(fresh_sandbox),
        "--archive",
        str(tmp_path / "a"),
        "--strategy",
        "force",
        "--strategy",
        "env-var",
    )

    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert re.search(r"^env-var\s+ok\s+ok\s+ok\s+ok\s+ok\s+ready$", proc.stdout, re.M)
    assert re.search(r"^force\s+FAIL\s+-\s+-\s+-\s+-\s+not ready$", proc.stdout, re.M)
    assert "_NO_SUCH_FLAG" in proc.stderr and "not ready: force (plan:" in proc.stderr
    assert "readiness: env-var: ready" in proc.stderr  # a progress line per strategy
    assert workspace_hash(fresh_sandbox) == before


def test_an_unknown_strategy_is_one_line_exit_2(fresh_sandbox: Path, tmp_path: Path) -> None:
    proc = cli(
        "readiness",
        "--target",
        str(fresh_sandbox),
        "--archive",
        str(tmp_path / "a"),
        "--strategy",
        "nope",
    )
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1 and "nope" in proc.stderr
    assert not (tmp_path / "a").exists()


def _service(root: Path) -> ServiceAdapter:
    spec = load_manifest(root).service
    assert spec is not None
    return adapter_for(spec, root, sys.executable)


@pytest.mark.slow
def test_a_running_service_is_untouched_while_its_copy_is_rehearsed_on_another_port(
    fresh_sandbox: Path, tmp_path: Path
) -> None:
    real = _service(fresh_sandbox)
    started = real.start()
    try:
        assert real.wait_healthy(60).healthy
        running = real.status()
        pidfile = (fresh_sandbox / ".run" / "trade-agent.pid").read_bytes()

        proc = cli(
            "readiness",
            "--target",
            str(fresh_sandbox),
            "--archive",
            str(tmp_path / "a"),
            "--strategy",
            "sac-data",
            "--json",
            timeout=600,
        )

        assert proc.returncode == 0, proc.stdout + proc.stderr
        row = json.loads(proc.stdout)["strategies"][0]
        assert row["readiness"] == "ready", row
        port = re.search(r"own port (\d+)", row["cells"]["effect"]["reason"])
        assert port is not None and int(port.group(1)) != running.port
        after = real.status()
        assert (after.pid, after.port) == (started.pid, running.port)
        assert real.wait_healthy(10).healthy
        assert (fresh_sandbox / ".run" / "trade-agent.pid").read_bytes() == pidfile
    finally:
        stopped = real.stop()
    assert stopped.pid == started.pid


def test_a_failing_apply_is_reverted_and_the_copy_ends_byte_identical(
    fresh_sandbox: Path, tmp_path: Path
) -> None:
    manifest = fresh_sandbox / "runbook.toml"
    manifest.write_text(
        manifest.read_text().replace("trade_agent_sac.server", "trade_agent_sac.no_such_server")
    )
    git(fresh_sandbox, ["commit", "-qam", "a service that cannot start"], isolated=True)
    before = workspace_hash(fresh_sandbox)

    proc = cli(
        "readiness",
        "--target",
        str(fresh_sandbox),
        "--archive",
        str(tmp_path / "a"),
        "--strategy",
        "sac-data",
        "--strategy",
        "env-var",
        "--json",
        timeout=600,
    )

    assert proc.returncode == 1, proc.stdout + proc.stderr
    rows = {row["strategy"]: row for row in json.loads(proc.stdout)["strategies"]}
    cells = rows["sac-data"]["cells"]
    assert cells["apply"]["status"] == "fail" and "no_such_server" in cells["apply"]["reason"]
    assert cells["undo"]["status"] == "pass", cells["undo"]
    assert "failed apply reverted: byte-identical" in cells["undo"]["reason"]
    assert rows["env-var"]["readiness"] == "ready"  # the copy was clean again for the next one
    assert workspace_hash(fresh_sandbox) == before


def test_a_service_whose_port_cannot_move_is_not_rehearsed_naming_why(
    fresh_sandbox: Path, tmp_path: Path
) -> None:
    manifest = fresh_sandbox / "runbook.toml"
    manifest.write_text(manifest.read_text().replace('"--port", "{port}",', '"--port", "8123",'))
    git(fresh_sandbox, ["commit", "-qam", "a service on a fixed port"], isolated=True)

    proc = cli(
        "readiness",
        "--target",
        str(fresh_sandbox),
        "--archive",
        str(tmp_path / "a"),
        "--strategy",
        "sac-deploy",
        "--json",
    )

    assert proc.returncode == 0, proc.stdout + proc.stderr
    row = json.loads(proc.stdout)["strategies"][0]
    assert row["readiness"] == "not rehearsed"
    assert "the service's port is fixed by runbook.toml" in row["reason"], row
    assert not (fresh_sandbox / ".run").exists()
