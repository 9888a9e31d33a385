"""``runbook --help`` without click prints exactly what the click group prints."""

from __future__ import annotations

import os
import subprocess
import sys

from runbook_lib.app.cli.fasthelp import ROOT_HELP
from tests.runutil import cli


def click_help(columns: int) -> str:
    """What the click group prints, run as the CLI runs it, on a terminal of ``columns``."""
    code = "from runbook_lib.app.cli.common import run_guarded; "
    code += "from runbook_lib.app.cli.root import cli; run_guarded(cli, ['--help'])"
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "COLUMNS": str(columns)},
    )
    return result.stdout


def test_static_help_is_the_click_groups_help() -> None:
    assert click_help(80) == ROOT_HELP


def test_runbook_help_prints_it_without_click() -> None:
    for flag in ("--help", "-h"):
        result = cli(flag, env={"COLUMNS": "120"})
        assert result.returncode == 0, result.stderr
        assert result.stdout == click_help(120) == ROOT_HELP
    probe = "import sys; from runbook_lib.app.cli import main; main(['--help']); "
    probe += "print('click' in sys.modules, file=sys.stderr)"
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert run.stderr.strip() == "False"


def test_narrow_terminal_gets_clicks_own_wrapping() -> None:
    result = cli("--help", env={"COLUMNS": "60"})
    assert result.returncode == 0, result.stderr
    assert result.stdout == click_help(60) != ROOT_HELP
