from __future__ import annotations

import json
import subprocess

import pytest

from runbook_lib.app.cli import main
from runbook_lib.base.errors import EXIT_INVALID_INPUT
from tests.runutil import runbook_executable


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [runbook_executable(), *args], capture_output=True, text=True, check=False, timeout=60
    )


def decide_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, object]:
    assert main(["decide", *args, "--json"]) == 0
    data: dict[str, object] = json.loads(capsys.readouterr().out)
    return data


def test_decide_in_a_subprocess() -> None:
    proc = run_cli("decide", "--crash", "--regression-pct", "30")
    assert proc.returncode == 0, proc.stderr
    assert "decision  immediate rollback (env var) + open critical issue" in proc.stdout
    assert "strategy  env-var" in proc.stdout and "also      code-rollback" in proc.stdout


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--regression-pct", "fast"], "'fast' is not a valid float"),
        (["--difference", "3", "--tolerance", "-1"], "tolerance must not be negative"),
        (["--regression-pct", "nan"], "regression must be a finite number"),
        (["--scenario", "fire"], "Invalid value for '--scenario'"),
        (["--scenario", "data-corruption", "--crash"], "cannot be combined with --crash"),
        (["--bogus"], "No such option '--bogus'"),
    ],
)
def test_mistakes_print_one_line_and_exit_2(args: list[str], expected: str) -> None:
    proc = run_cli("decide", *args)
    assert proc.returncode == EXIT_INVALID_INPUT and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert expected in proc.stderr


@pytest.mark.parametrize(
    ("args", "outcome", "strategy"),
    [
        ([], "investigate-before-rollback", "investigate"),
        (["--crash"], "immediate-rollback", "env-var"),
        (["--no-crash", "--regression-pct", "20"], "document-and-monitor", "document-difference"),
        (["--regression-pct", "20.5"], "code-rollback", "code"),
        (["--difference", "5"], "document-within-tolerance", "document-difference"),
        (["--difference", "5.5"], "investigate", "investigate"),
        (["--difference", "5.5", "--bug"], "rollback-and-fix", "config"),
        (["--difference", "5.5", "--intentional"], "document-intentional", "document-difference"),
        (
            ["--difference", "8", "--tolerance", "10", "--bug"],
            "document-within-tolerance",
            "document-difference",
        ),
    ],
)
def test_decide_json(
    capsys: pytest.CaptureFixture[str], args: list[str], outcome: str, strategy: str
) -> None:
    data = decide_json(capsys, *args)
    assert (data["outcome"], data["strategy"]) == (outcome, strategy)
    assert isinstance(data["path"], list) and data["path"][0] == "Issue Detected"


def test_decide_records_the_facts(capsys: pytest.CaptureFixture[str]) -> None:
    data = decide_json(
        capsys, "--regression-pct", "25", "--difference", "-3", "--tolerance", "2", "--intentional"
    )
    assert data["assessment"] == {
        "crash_or_data_loss": False,
        "regression_pct": 25.0,
        "difference_pct": -3.0,
        "tolerance_pct": 2.0,
        "intentional": True,
    }
    assert data["also"] == [
        {
            "outcome": "document-intentional",
            "path": [
                "Issue Detected",
                "Different results?",
                "Outside tolerance",
                "Investigate",
                "Intentional",
                "Document",
            ],
        }
    ]


def test_decide_text(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["decide", "--regression-pct", "20"]) == 0
    text = capsys.readouterr().out
    assert "path      Issue Detected -> Performance regression? -> <20% slower" in text
    assert "  - 20% slower is not > 20%" in text


@pytest.mark.parametrize(
    ("args", "strategy"),
    [
        (["--scenario", "deployment-failure"], "sac-deploy"),
        (["--scenario", "data-corruption"], "sac-data"),
        (["--scenario", "implementation-failure"], "sac-full"),
        (["--scenario", "testing-failure", "--not-deployed"], "sac-code"),
    ],
)
def test_decide_sac_scenarios(
    capsys: pytest.CaptureFixture[str], args: list[str], strategy: str
) -> None:
    data = decide_json(capsys, *args)
    assert data["strategy"] == strategy and data["scenario"] == args[1]


def test_decide_sac_text(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["decide", "--scenario", "deployment-failure"]) == 0
    text = capsys.readouterr().out
    assert "strategy  sac-deploy: downgrade the package" in text
    assert "  - Step 10: Development Environment" in text
