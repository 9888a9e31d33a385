from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import click
import pytest

from runbook_lib.app.cli import main
from runbook_lib.app.cli.options import OneLineCommand, archive_option, json_option, target_option
from runbook_lib.base.errors import EXIT_INVALID_INPUT, InvalidInputError
from runbook_lib.incident.store import load_incident
from tests.runutil import runbook_executable


def run_cli(archive: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RUNBOOK_ARCHIVE": str(archive)}
    return subprocess.run(
        [runbook_executable(), *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=60,
    )


def one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == EXIT_INVALID_INPUT, proc
    assert proc.stdout == "" and "Traceback" not in proc.stderr
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("runbook: error: ")
    return proc.stderr


def test_open_in_a_subprocess_prints_the_id(tmp_path: Path) -> None:
    proc = run_cli(
        tmp_path,
        "incident",
        "open",
        "--title",
        "unified env crashes",
        "--severity",
        "critical",
        "--kind",
        "crash",
    )
    assert proc.returncode == 0, proc.stderr
    incident_id = proc.stdout.strip()
    assert load_incident(tmp_path, incident_id).title == "unified env crashes"
    proc = run_cli(
        tmp_path,
        "incident",
        "open",
        "--title",
        "t",
        "--severity",
        "low",
        "--kind",
        "other",
        "--json",
    )
    assert proc.returncode == 0
    data = json.loads(proc.stdout)
    assert data["id"].startswith("INC-") and data["state"] == "opened"
    assert data["next_states"] == ["assessed"]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ["incident", "open", "--title", "t", "--severity", "urgent", "--kind", "crash"],
            "Invalid value for '--severity'",
        ),
        (["incident", "open", "--severity", "low", "--kind", "crash"], "Missing option '--title'"),
        (
            ["incident", "open", "--title", "", "--severity", "low", "--kind", "crash"],
            "title must be one non-empty line",
        ),
        (["incident", "show", "../x"], "'../x' is not an incident ID"),
        (["incident", "show", "INC-../.."], "is not an incident ID"),
        (["incident", "show", "/etc/passwd"], "is not an incident ID"),
        (["incident", "show", "INC-20261123-0612-3fa2"], "no incident INC-20261123-0612-3fa2"),
        (["incident", "advance", "../x", "assessed"], "is not an incident ID"),
        (["incident", "advance", "INC-20261123-0612-3fa2", "fixed"], "Invalid value for 'STATE'"),
        (
            ["incident", "done", "INC-20261123-0612-3fa2", "coffee"],
            "Invalid value for 'OBLIGATION'",
        ),
        (["incident", "frobnicate"], "No such command 'frobnicate'"),
    ],
)
def test_user_mistakes_print_one_line_and_exit_2(
    tmp_path: Path, args: list[str], expected: str
) -> None:
    assert expected in one_line_error(run_cli(tmp_path / "archive", *args))
    assert not (tmp_path / "archive").exists()


def test_illegal_transition_in_a_subprocess(tmp_path: Path) -> None:
    incident_id = run_cli(
        tmp_path, "incident", "open", "--title", "t", "--severity", "low", "--kind", "other"
    ).stdout.strip()
    message = one_line_error(run_cli(tmp_path, "incident", "advance", incident_id, "verified"))
    assert "cannot go from opened to verified (from opened: assessed)" in message


def test_lifecycle_in_process(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    archive = ["--archive", str(tmp_path)]
    assert (
        main(
            [
                "incident",
                "open",
                "--title",
                "env crash",
                "--severity",
                "critical",
                "--kind",
                "crash",
                *archive,
            ]
        )
        == 0
    )
    incident_id = capsys.readouterr().out.strip()

    assert main(["incident", "list", *archive]) == 0
    listing = capsys.readouterr().out
    assert incident_id in listing and "tracking-issue due" in listing and "env crash" in listing

    assert (
        main(["incident", "advance", incident_id, "assessed", "--note", "decided", *archive]) == 0
    )
    assert capsys.readouterr().out.strip() == f"{incident_id}: opened -> assessed"
    assert main(["incident", "advance", incident_id, "rolled-back", *archive]) == 0
    capsys.readouterr()

    assert main(["incident", "done", incident_id, "tracking-issue", "--note", "#7", *archive]) == 0
    assert "tracking-issue met at" in capsys.readouterr().out

    assert main(["incident", "show", incident_id, *archive]) == 0
    shown = capsys.readouterr().out
    assert "state rolled-back" in shown and "met      tracking-issue" in shown
    assert "due      stakeholder-update" in shown
    assert "next states: rolled-back, verified, assessed" in shown

    assert main(["incident", "show", incident_id, "--json", *archive]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["id"] == incident_id and data["state"] == "rolled-back"
    assert [d["obligation"] for d in data["deadlines"]] == [
        "tracking-issue",
        "stakeholder-update",
        "root-cause-analysis",
    ]
    assert data["open_obligations"] == ["root-cause-analysis", "stakeholder-update"]
    assert data["completions"][0]["note"] == "#7"

    assert main(["incident", "list", "--json", *archive]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [i["id"] for i in listed["incidents"]] == [incident_id]

    assert main(["incident", "done", incident_id, "management-report", *archive]) == 2
    assert (
        "open obligations now: root-cause-analysis, stakeholder-update" in capsys.readouterr().err
    )


def test_archive_defaults_to_env_then_the_targets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "runbook.toml").write_text('[target]\nname = "t"\n[git]\nstable_ref = "v1"\n')
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RUNBOOK_ARCHIVE", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert main(["incident", "list"]) == 0
    assert (
        f"no incidents in {tmp_path / 'data' / 'runbook' / 'archives'}/t-"
        in capsys.readouterr().out
    )
    monkeypatch.setenv("RUNBOOK_ARCHIVE", str(tmp_path / "elsewhere"))
    assert main(["incident", "open", "--title", "t", "--severity", "low", "--kind", "other"]) == 0
    incident_id = capsys.readouterr().out.strip()
    assert (tmp_path / "elsewhere" / "incidents" / incident_id / "incident.json").is_file()


@click.command(cls=OneLineCommand)
@target_option
@archive_option
@json_option
def probe(target: Path, archive: Path, as_json: bool) -> None:
    click.echo(json.dumps({"target": str(target), "archive": str(archive), "json": as_json}))


def test_target_option_finds_the_nearest_manifest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "runbook.toml").write_text('[target]\nname = "t"\n[git]\nstable_ref = "v1"\n')
    nested = tmp_path / "src" / "deep"
    nested.mkdir(parents=True)
    monkeypatch.chdir(nested)
    monkeypatch.delenv("RUNBOOK_ARCHIVE", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    probe.main(["--json"], standalone_mode=False)
    data = json.loads(capsys.readouterr().out)
    assert data["target"] == str(tmp_path.resolve()) and data["json"] is True
    assert Path(data["archive"]).parent == tmp_path / "data" / "runbook" / "archives"
    probe.main(["--target", str(tmp_path)], standalone_mode=False)
    assert json.loads(capsys.readouterr().out)["target"] == str(tmp_path.resolve())


def test_target_option_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InvalidInputError, match=r"no runbook\.toml in"):
        probe.main([], standalone_mode=False)
    with pytest.raises(InvalidInputError, match=r"holds no runbook\.toml"):
        probe.main(["--target", str(tmp_path)], standalone_mode=False)
