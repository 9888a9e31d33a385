"""examples/ci/: the nightly workflow parses and every runbook command line in it exists."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import click
import yaml  # type: ignore[import-untyped]  # PyYAML, present through jupyter_events

from runbook_lib.app.cli.root import cli as root
from runbook_lib.runs.catalog import find_notebook

WORKFLOW = Path(__file__).resolve().parents[2] / "examples" / "ci" / "nightly-readiness.yml"


def runbook_lines(workflow: dict[str, Any]) -> list[list[str]]:
    """Each ``runbook ...`` command of the workflow's run steps, split as the shell would."""
    found = []
    for job in workflow["jobs"].values():
        for step in job["steps"]:
            script = str(step.get("run", "")).replace("\\\n", " ")
            for match in re.finditer(r"(?<![\w-])runbook [^|)\n]*", script):
                found.append(shlex.split(match.group(0))[1:])
    return found


def command_for(args: list[str]) -> tuple[click.Command, list[str]]:
    command: click.Command = root
    rest = list(args)
    ctx = click.Context(root)
    while isinstance(command, click.Group) and rest and not rest[0].startswith("-"):
        sub = command.get_command(ctx, rest[0])
        assert sub is not None, f"no command {rest[0]!r} in {args}"
        command, rest = sub, rest[1:]
    return command, rest


def test_the_workflow_parses_and_runs_nightly_with_the_archive_uploaded() -> None:
    workflow = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    triggers = workflow[True] if True in workflow else workflow["on"]  # YAML 1.1 reads 'on' as True
    assert triggers["schedule"][0]["cron"]
    steps = workflow["jobs"]["readiness"]["steps"]
    upload = [s for s in steps if str(s.get("uses", "")).startswith("actions/upload-artifact")]
    assert upload and upload[0]["if"] == "always()"
    assert upload[0]["with"]["path"] == "${{ env.RUNBOOK_ARCHIVE }}"


def test_every_runbook_command_line_names_a_command_its_options_and_notebook() -> None:
    lines = runbook_lines(yaml.safe_load(WORKFLOW.read_text(encoding="utf-8")))
    ran = [args[1] for args in lines if args[0] == "run"]
    assert ran == ["readiness", "parity"]  # both through papermill
    for args in lines:
        command, rest = command_for(args)
        known = {opt for param in command.params for opt in param.opts}
        for token in rest:
            if token.startswith("--"):
                assert token in known, f"{shlex.join(args)}: {command.name} has no {token}"
        if args[0] == "run":
            assert find_notebook(args[1]).is_file()
