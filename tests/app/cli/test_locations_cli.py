"""--target and --archive before and after the subcommand, from the environment, and defaults.

Every call is the console script in a fresh process, as the user runs it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from runbook_lib.app.cli.root import COMMANDS

RUNBOOK = Path(sys.executable).with_name("runbook")
MISSING = "INC-20990101-0000-abcd"

# Every command that reads the archive, with the arguments it needs to reach it.
ARCHIVE_COMMANDS = [
    ("incident", "show", MISSING),
    ("incident", "advance", MISSING, "assessed"),
    ("incident", "done", MISSING, "tracking-issue"),
    ("decide", "--incident", MISSING),
    ("rollback", "plan", "--incident", MISSING, "--strategy", "config"),
    ("rollback", "apply", "--incident", MISSING, "--plan", "abcdefg", "--yes"),
    ("rollback", "undo", "--incident", MISSING, "--yes"),
    ("rollback", "resume", "--incident", MISSING, "--yes"),
    ("rollback", "status", "--incident", MISSING),
    ("parity", "--incident", MISSING),
    ("verify", "--incident", MISSING),
    ("run", "parity", "--incident", MISSING),
    ("archive", "show", MISSING),
    ("archive", "verify", MISSING),
    ("archive", "report", MISSING),
    ("notify", "--incident", MISSING, "--template", "initial", "--no-post"),
    ("readiness", "--incident", MISSING),
]
# Every command that needs the target, with the arguments it needs to reach it.
TARGET_COMMANDS = [
    ("rollback", "now", "--yes", "--dry-run"),
    ("rollback", "status", "--incident", MISSING),
    ("parity", "--incident", MISSING),
    ("parity", "record", "--out", "x.json"),
    ("verify", "--incident", MISSING),
    ("run", "parity", "--incident", MISSING),
    ("readiness", "--incident", MISSING),
]


def runbook(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in ("RUNBOOK_TARGET", "RUNBOOK_ARCHIVE")}
    return subprocess.run(
        [str(RUNBOOK), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**base, **env},
        check=False,
        timeout=120,
    )


def placements(
    option: str, value: Path, command: tuple[str, ...]
) -> list[tuple[list[str], dict[str, str]]]:
    env_name = f"RUNBOOK_{option.upper()}"
    return [
        ([f"--{option}", str(value), *command], {}),
        ([*command, f"--{option}", str(value)], {}),
        (list(command), {env_name: str(value)}),
    ]


@pytest.fixture
def data_home(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.mark.parametrize("command", ARCHIVE_COMMANDS, ids=" ".join)
def test_archive_before_after_and_from_env(
    command: tuple[str, ...], sandbox: Path, tmp_path: Path
) -> None:
    archive = tmp_path / "elsewhere"
    for args, env in placements("archive", archive, command):
        proc = runbook("--target", str(sandbox), *args, cwd=tmp_path, **env)
        assert proc.returncode == 2, (args, env, proc.stderr)
        assert (
            proc.stderr
            == f"runbook: error: no incident {MISSING} in {archive} "
            + proc.stderr.split(f"{archive} ", 1)[1]
        ), (args, proc.stderr)
        assert proc.stderr.count("\n") == 1


@pytest.mark.parametrize("command", TARGET_COMMANDS, ids=" ".join)
def test_target_before_after_and_from_env(command: tuple[str, ...], tmp_path: Path) -> None:
    not_a_target = tmp_path / "plain"
    not_a_target.mkdir()
    for args, env in placements("target", not_a_target, command):
        proc = runbook("--archive", str(tmp_path / "ar"), *args, cwd=tmp_path, **env)
        assert proc.returncode == 2, (args, env, proc.stderr)
        assert f"{not_a_target} holds no runbook.toml" in proc.stderr, (args, proc.stderr)
        assert proc.stderr.count("\n") == 1


def test_default_archive_is_the_targets_from_root_and_subdirectory(
    fresh_sandbox: Path, data_home: Path
) -> None:
    opened = runbook(
        "incident",
        "open",
        "--title",
        "t",
        "--severity",
        "low",
        "--kind",
        "other",
        cwd=fresh_sandbox,
        XDG_DATA_HOME=str(data_home),
    )
    assert opened.returncode == 0, opened.stderr
    incident_id = opened.stdout.strip()
    deep = fresh_sandbox / "src" / "rl"
    for cwd, env in (
        (fresh_sandbox, {}),
        (deep, {}),
        (data_home.parent, {"RUNBOOK_TARGET": str(fresh_sandbox)}),
    ):
        listed = runbook("incident", "list", cwd=cwd, XDG_DATA_HOME=str(data_home), **env)
        assert listed.returncode == 0, listed.stderr
        assert incident_id in listed.stdout
    (archives,) = (data_home / "runbook" / "archives").iterdir()
    assert (archives / "incidents" / incident_id).is_dir()
    assert not (fresh_sandbox / "outputs").exists() and not (deep / "outputs").exists()


def test_manifest_archive_dir_wins_over_the_data_directory(
    fresh_sandbox: Path, tmp_path: Path
) -> None:
    manifest = fresh_sandbox / "runbook.toml"
    manifest.write_text(manifest.read_text() + f'\n[archive]\ndir = "{tmp_path / "mine"}"\n')
    opened = runbook(
        "incident",
        "open",
        "--title",
        "t",
        "--severity",
        "low",
        "--kind",
        "other",
        cwd=fresh_sandbox / "src",
        XDG_DATA_HOME=str(tmp_path / "data"),
    )
    assert opened.returncode == 0, opened.stderr
    assert (tmp_path / "mine" / "incidents" / opened.stdout.strip()).is_dir()
    assert not (tmp_path / "data").exists()


def test_no_archive_and_no_target_is_one_clear_line(tmp_path: Path) -> None:
    proc = runbook("incident", "list", cwd=tmp_path)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert "pass --archive DIR" in proc.stderr


def porcelain(root: Path) -> list[str]:
    out = subprocess.run(
        ["git", "-C", str(root), "status", "--porcelain"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return out.splitlines()


@pytest.mark.slow
def test_target_git_status_stays_clean(fresh_sandbox: Path, data_home: Path) -> None:
    env = {"XDG_DATA_HOME": str(data_home)}
    opened = runbook(
        "incident",
        "open",
        "--title",
        "t",
        "--severity",
        "low",
        "--kind",
        "other",
        cwd=fresh_sandbox,
        **env,
    )
    assert opened.returncode == 0, opened.stderr
    assert porcelain(fresh_sandbox) == []
    now = runbook("rollback", "now", "--yes", "--json", cwd=fresh_sandbox / "src", **env)
    assert now.returncode == 0, now.stderr
    # The immediate rollback is the env-var switch in .runbook/ (ignored): nothing shows.
    assert porcelain(fresh_sandbox) == []
    incident_id = __import__("json").loads(now.stdout)["incident"]
    parity = runbook(
        "parity", "--incident", incident_id, "--episodes", "2", cwd=fresh_sandbox, **env
    )
    assert parity.returncode in (0, 1), parity.stderr
    verify = runbook(
        "verify",
        "--incident",
        incident_id,
        "--checks",
        "config,factory-resolution",
        cwd=fresh_sandbox,
        **env,
    )
    assert verify.returncode in (0, 1), verify.stderr
    assert porcelain(fresh_sandbox) == []


def test_help_lists_commands_in_workflow_order_with_whole_summaries(tmp_path: Path) -> None:
    proc = runbook("--help", cwd=tmp_path)
    assert proc.returncode == 0
    listed = [
        line.split()[0]
        for line in proc.stdout.split("Commands:\n")[1].splitlines()
        if line.startswith("  ") and not line.startswith("   ")
    ]
    assert listed == list(COMMANDS)
    assert "..." not in proc.stdout.split("Commands:")[1]


def test_summaries_are_the_commands_first_lines() -> None:
    import click

    from runbook_lib.app.cli.root import cli

    ctx = click.Context(cli)
    for name, lazy in COMMANDS.items():
        command = cli.get_command(ctx, name)
        assert command is not None and command.help is not None
        assert command.help.splitlines()[0] == lazy.summary, name


def test_unknown_command_is_one_line_without_doubled_prefix(tmp_path: Path) -> None:
    proc = runbook("rollbak", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.startswith("runbook: error: No such command 'rollbak'.")
    assert proc.stderr.count("runbook:") == 1 and proc.stderr.count("\n") == 1


def test_help_imports_no_subcommand(tmp_path: Path) -> None:
    code = (
        "import sys; from runbook_lib.app.cli import main; main(['--help']); "
        "print(sorted(m for m in sys.modules if m.startswith('runbook_lib.app.cli.')))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    # The group's help is printed from fasthelp (a test keeps it equal to click's).
    assert proc.stdout.strip().splitlines()[-1] == "['runbook_lib.app.cli.fasthelp']"


def test_rollback_now_imports_only_rollback(tmp_path: Path) -> None:
    code = (
        "import sys; from runbook_lib.app.cli import main; main(['rollback', '--help']); "
        "print(sorted(m for m in sys.modules if m.endswith('_cmd') or m.startswith(('jinja2', 'http.client', 'torch'))))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip().splitlines()[-1] == "['runbook_lib.app.cli.rollback_cmd']"


@pytest.mark.parametrize("name", ["03_parity", "parity", "03_parity.ipynb"])
def test_run_finds_a_shipped_notebook_by_name(name: str) -> None:
    from runbook_lib.runs.catalog import find_notebook

    assert find_notebook(name).name == "03_parity.ipynb"


def test_notebooks_list_and_copy(tmp_path: Path) -> None:
    listed = runbook("notebooks", "list", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert "03_parity" in listed.stdout and "episodes: int = 20" in listed.stdout
    copied = runbook("notebooks", "copy", str(tmp_path / "lab"), cwd=tmp_path)
    assert copied.returncode == 0, copied.stderr
    assert sorted(p.name for p in (tmp_path / "lab").iterdir())[3] == "03_parity.ipynb"
    again = runbook("notebooks", "copy", str(tmp_path / "lab"), cwd=tmp_path)
    assert again.returncode == 2 and "--force" in again.stderr
    assert shutil.which("git")


def test_manifest_name_matches_the_manifest_module() -> None:
    from runbook_lib.app import locations
    from runbook_lib.target import manifest

    assert locations.MANIFEST_NAME == manifest.MANIFEST_NAME
