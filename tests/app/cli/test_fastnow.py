"""``runbook rollback now`` without click: the same call, the same output, a clean target."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from runbook_lib.app.cli.fastnow import parse
from tests.runutil import cli

# What the immediate rollback never imports. dataclasses and inspect: its records are
# NamedTuples (runbook_lib.base.records); tomllib: runbook.toml's parse is cached by its text.
HEAVY = (
    "dataclasses",
    "inspect",
    "tomllib",
    "click",
    "psutil",
    "importlib.metadata",
    "filelock",
    "cryptography",
    "_strptime",
    "runbook_lib.rollback.actions.servicectl",
    "runbook_lib.rollback.actions.pyedit",
    "runbook_lib.target.inifile",
    "runbook_lib.target.tomllines",
)


def porcelain(root: Path) -> list[str]:
    out = subprocess.run(
        ["git", "-C", str(root), "status", "--porcelain"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return out.splitlines()


@pytest.mark.parametrize(
    ("argv", "known"),
    [
        (["rollback", "now", "--yes"], True),
        (["--target", "ws", "--archive=ar", "rollback", "now", "-y", "--json", "--title=t"], True),
        (["rollback", "now", "--dry-run", "--title", "a title", "--target", "ws"], True),
        (["rollback", "now", "--yes", "--help"], False),
        (["rollback", "now", "--yes", "--title"], False),
        (["rollback", "now", "--yes", "--force"], False),
        (["--json", "rollback", "now", "--yes"], False),
        (["rollback", "status", "now"], False),
        (["rollback", "now", "--yes", "--target", ""], False),
    ],
)
def test_parse_takes_only_what_rollback_now_documents(argv: list[str], known: bool) -> None:
    assert (parse(argv) is not None) is known


def test_a_path_that_is_a_file_is_left_to_click(tmp_path: Path) -> None:
    (tmp_path / "file").touch()
    assert parse(["rollback", "now", "--yes", "--target", str(tmp_path / "file")]) is None
    proc = cli("rollback", "now", "--yes", "--target", str(tmp_path / "file"))
    assert proc.returncode == 2 and "is a file" in proc.stderr


def test_now_runs_without_click_or_the_heavy_actions(fresh_sandbox: Path, tmp_path: Path) -> None:
    args = [
        "rollback",
        "now",
        "--yes",
        "--json",
        "--target",
        str(fresh_sandbox),
        "--archive",
        str(tmp_path / "archive"),
    ]
    cache = {"RUNBOOK_CACHE_DIR": str(tmp_path / "cache")}
    where = ["--target", str(fresh_sandbox), "--archive", str(tmp_path / "warm")]
    warm = cli("rollback", "now", "--dry-run", *where, env=cache)
    assert warm.returncode == 0, warm.stderr  # parses runbook.toml into the new cache
    code = (
        f"import sys; from runbook_lib.app.cli import main; code = main({args!r}); "
        f"print(code, sorted(m for m in {HEAVY!r} if m in sys.modules))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **cache},
    )
    assert proc.stdout.strip().splitlines()[-1] == "0 []", proc.stderr
    result = json.loads(proc.stdout[: proc.stdout.rindex("}") + 1])
    assert result["steps"] == ["select the legacy env by environment variables"]
    assert result["report"]["ok"] is True
    env = (fresh_sandbox / ".runbook" / "rollback.env").read_text()
    assert "USE_UNIFIED_ENV=0" in env and "RL_ENV_TYPE=legacy" in env
    status = cli(
        "rollback",
        "status",
        "--incident",
        result["incident"],
        "--json",
        "--target",
        str(fresh_sandbox),
        "--archive",
        str(tmp_path / "archive"),
    )
    assert status.returncode == 0, status.stderr
    data = json.loads(status.stdout)
    assert data["state"] == "rolled-back" and data["interrupted"] is None
    assert data["rollback_env"] == {"USE_UNIFIED_ENV": "0", "RL_ENV_TYPE": "legacy"}
    assert data["lock"]["held"] is False


def test_now_text_is_the_same_through_click(fresh_sandbox: Path, tmp_path: Path) -> None:
    where = ["--target", str(fresh_sandbox), "--archive", str(tmp_path / "archive")]
    fast = cli("rollback", "now", "--dry-run", *where)
    code = (
        "import sys; from runbook_lib.app.cli.common import run_guarded; "
        "from runbook_lib.app.cli.root import cli; "
        f"sys.exit(run_guarded(cli, ['rollback', 'now', '--dry-run', *{where!r}]))"
    )
    slow = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert fast.returncode == slow.returncode == 0, fast.stderr + slow.stderr

    def shape(text: str) -> list[str]:
        return [line.split(";")[0].split(" INC-")[0] for line in text.splitlines()]

    assert shape(fast.stdout) == shape(slow.stdout)
    assert "in your own shell" in fast.stdout and "export USE_UNIFIED_ENV=0" in fast.stdout


def test_without_yes_click_asks_and_refuses_off_a_terminal(
    fresh_sandbox: Path, tmp_path: Path
) -> None:
    proc = cli("rollback", "now", "--target", str(fresh_sandbox), "--archive", str(tmp_path / "ar"))
    assert proc.returncode == 2
    assert proc.stderr.startswith(
        "runbook: error: refusing to change the target without confirmation"
    )
    assert porcelain(fresh_sandbox) == []


def test_help_of_now_is_clicks(tmp_path: Path) -> None:
    proc = cli("rollback", "now", "--yes", "--help", cwd=tmp_path)
    assert proc.returncode == 0 and "Usage: runbook rollback now" in proc.stdout


def test_status_is_clean_even_where_the_target_does_not_ignore_runbook_dir(
    fresh_sandbox: Path, tmp_path: Path
) -> None:
    ignore = fresh_sandbox / ".gitignore"
    ignore.write_text(
        "".join(
            line
            for line in ignore.read_text().splitlines(keepends=True)
            if line.strip() != ".runbook/"
        )
    )
    git = ["git", "-C", str(fresh_sandbox)]
    subprocess.run(
        [*git, "commit", "-qam", "track .runbook", "--no-verify"], check=True, capture_output=True
    )
    assert porcelain(fresh_sandbox) == []
    proc = cli(
        "rollback",
        "now",
        "--yes",
        "--target",
        str(fresh_sandbox),
        "--archive",
        str(tmp_path / "archive"),
    )
    assert proc.returncode == 0, proc.stderr
    assert (fresh_sandbox / ".runbook" / "rollback.env").is_file()
    assert porcelain(fresh_sandbox) == []


def test_the_fast_exit_keeps_the_output_and_the_exit_code(
    fresh_sandbox: Path, tmp_path: Path
) -> None:
    # The console script leaves 'rollback now' without the interpreter's teardown:
    # what it printed into a pipe must all arrive, and an error keeps its exit code.
    archive = ["--archive", str(tmp_path / "archive")]
    done = cli("rollback", "now", "--yes", "--json", "--target", str(fresh_sandbox), *archive)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["report"]["ok"] is True
    empty = tmp_path / "not-a-target"
    empty.mkdir()
    refused = cli("rollback", "now", "--yes", "--target", str(empty), *archive)
    assert refused.returncode == 2
    assert refused.stderr.startswith(f"runbook: error: --target {empty} holds no runbook.toml")
    assert refused.stdout == ""
