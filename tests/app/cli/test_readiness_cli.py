"""``runbook readiness``: every rollback rehearsed in a worktree of HEAD, the user's tree untouched.

Each step is the installed CLI in a fresh process, on a fresh sandbox.
"""

from __future__ import annotations

import json
import re
import tarfile
from pathlib import Path

from runbook_lib.base.fsutil import workspace_hash
from runbook_lib.evidence.layout import READINESS_DIR
from runbook_lib.incident.store import incident_dir
from runbook_lib.target.gitutil import git
from tests.runutil import cli

REHEARSED = ["env-var", "config", "code", "force", "now", "sac-code"]
PHASES = ["plan", "apply", "effect", "tests", "undo"]


def worktrees(root: Path) -> list[str]:
    return [line for line in git(root, ["worktree", "list", "--porcelain"]).splitlines() if line]


def test_every_env_strategy_is_ready_on_the_sandbox_and_its_tree_is_untouched(
    fresh_sandbox: Path, tmp_path: Path
) -> None:
    archive = tmp_path / "archive"
    before, trees = workspace_hash(fresh_sandbox), worktrees(fresh_sandbox)
    status = git(fresh_sandbox, ["status", "--porcelain"])
    opened = cli(
        "incident", "open", "--title", "nightly readiness", "--severity", "low",
        "--kind", "other", "--archive", str(archive), "--json",
    )  # fmt: skip
    incident = json.loads(opened.stdout)["id"]

    proc = cli(
        "readiness", "--target", str(fresh_sandbox), "--archive", str(archive),
        "--incident", incident, "--json",
    )  # fmt: skip

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
    skipped = [n for n in rows if rows[n]["readiness"] == "not rehearsed"]
    assert skipped == ["sac-full", "sac-deploy", "sac-data"]
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
    assert '<td class="pass">ready</td>' in section and "not rehearsed" in section


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
        "readiness", "--target", str(fresh_sandbox), "--archive", str(tmp_path / "a"),
        "--strategy", "force", "--strategy", "env-var",
    )  # fmt: skip

    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert re.search(r"^env-var\s+ok\s+ok\s+ok\s+ok\s+ok\s+ready$", proc.stdout, re.M)
    assert re.search(r"^force\s+FAIL\s+-\s+-\s+-\s+-\s+not ready$", proc.stdout, re.M)
    assert "_NO_SUCH_FLAG" in proc.stderr and "not ready: force (plan:" in proc.stderr
    assert "readiness: env-var: ready" in proc.stderr  # a progress line per strategy
    assert workspace_hash(fresh_sandbox) == before


def test_an_unknown_strategy_is_one_line_exit_2(fresh_sandbox: Path, tmp_path: Path) -> None:
    proc = cli(
        "readiness", "--target", str(fresh_sandbox), "--archive", str(tmp_path / "a"),
        "--strategy", "nope",
    )  # fmt: skip
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1 and "nope" in proc.stderr
    assert not (tmp_path / "a").exists()
