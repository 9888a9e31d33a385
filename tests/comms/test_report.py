"""The report bundle shows what a rollback changed, its signature status, and prints well."""

from __future__ import annotations

import hashlib
import re
import subprocess
import tarfile
from pathlib import Path

import pytest

from runbook_lib.comms.changes import file_diff
from runbook_lib.incident.store import open_incident
from runbook_lib.rollback.actions.files import BlobStore
from runbook_lib.rollback.actions.model import FileChange
from tests.runutil import cli

CALL_SITE = "scripts/run_rsa.py"


def _page(archive: Path, incident: str, out: Path) -> str:
    result = cli("archive", "report", incident, "--out", str(out), "--archive", str(archive))
    assert result.returncode == 0, result.stderr
    with tarfile.open(out) as tar:
        member = tar.extractfile(f"{incident}/index.html")
        assert member is not None
        return member.read().decode()


def _section(page: str, title: str) -> str:
    start = page.index(f">{title}</h2>")
    end = page.find("<h2", start)
    return page[start : end if end >= 0 else len(page)]


def _git_head(root: Path) -> str:
    return subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True
    ).stdout.strip()


@pytest.mark.slow
def test_the_report_shows_an_uncommitted_rollback_as_a_diff_and_its_undo(
    fresh_sandbox: Path, tmp_path: Path
) -> None:
    archive = tmp_path / "archive"
    incident = open_incident(archive, "unified env 40% slower", "high", "perf-regression").id
    where = ("--target", str(fresh_sandbox), "--archive", str(archive))
    call_site = fresh_sandbox / CALL_SITE
    # a local edit nobody committed: the diff must start from it, not from HEAD
    call_site.write_text(call_site.read_text() + "# local tweak, not committed\n")
    edited = hashlib.sha256(call_site.read_bytes()).hexdigest()
    head = _git_head(fresh_sandbox)

    plan = cli("rollback", "plan", "--incident", incident, "--strategy", "code", *where)
    assert plan.returncode == 0, plan.stderr
    sha = re.search(r"--plan ([0-9a-f]{12})", plan.stdout)
    assert sha is not None, plan.stdout
    applied = cli("rollback", "apply", "--incident", incident, "--plan", sha[1], "--yes", *where)
    assert applied.returncode == 0, applied.stderr
    assert _git_head(fresh_sandbox) == head  # the rollback commits nothing

    change = _section(_page(archive, incident, tmp_path / "r1.tar.gz"), "Applied change")
    assert "in effect" in change and f"<code>{CALL_SITE}</code> (modify)" in change
    assert edited in change  # "before" is the working tree with the local edit
    after = hashlib.sha256(call_site.read_bytes()).hexdigest()
    assert after in change
    assert '<span class="del">-    env = create_sim_env(config)</span>' in change
    assert '<span class="add">+    env = create_sim_env(config, env_type=EnvType.LEGACY)' in change

    undone = cli("rollback", "undo", "--incident", incident, "--yes", *where)
    assert undone.returncode == 0, undone.stderr
    page = _page(archive, incident, tmp_path / "r2.tar.gz")
    assert re.search(r"undone 20\d\d-", _section(page, "Applied change"))
    signature = _section(page, "Signature")
    assert "unsigned: cannot prove" in signature or "signed" in signature
    assert "<script" not in page and "@media print" in page


def test_a_text_change_is_a_unified_diff(tmp_path: Path) -> None:
    store = BlobStore(tmp_path / "blobs")
    before, after = store.put(b"a = 1\nb = 2\n"), store.put(b"a = 1\nb = 3\n")
    diff = file_diff(FileChange("conf.py", before, after, "b"), store)
    assert diff.diff[:2] == ("--- a/conf.py", "+++ b/conf.py")
    assert "-b = 2" in diff.diff and "+b = 3" in diff.diff
    assert diff.size_text() == "12 B → 12 B"


def test_a_created_file_diffs_from_nothing(tmp_path: Path) -> None:
    store = BlobStore(tmp_path / "blobs")
    diff = file_diff(FileChange("new.env", None, store.put(b"X=1\n"), "new"), store)
    assert diff.kind == "create" and diff.diff[0] == "--- /dev/null" and "+X=1" in diff.diff
    assert diff.size_text() == "absent → 4 B"


def test_binary_content_shows_sizes_and_hashes_only(tmp_path: Path) -> None:
    store = BlobStore(tmp_path / "blobs")
    before, after = store.put(b"\x00\x01model"), store.put(b"\x00\x02model!")
    diff = file_diff(FileChange("model.zip", before, after, "m"), store)
    assert not diff.diff and "binary" in diff.note
    assert diff.size_text() == "7 B → 8 B"


def test_content_missing_from_the_store_is_said_not_guessed(tmp_path: Path) -> None:
    store = BlobStore(tmp_path / "blobs")
    after = store.put(b"new\n")
    diff = file_diff(FileChange("x.py", "0" * 64, after, "x"), store)
    assert not diff.diff and "not kept" in diff.note and diff.before_size is None
