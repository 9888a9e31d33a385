"""The ``.runbook/rollback.env`` format: variables every process of the target runs with.

The env-var rollback (seed 000 §1.1) writes this file; the runner, the checks,
the assessment and the messages read it. This module is the one place that
knows its name and syntax: ``NAME=value`` lines, ``#`` comments, an optional
``export`` prefix.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from pathlib import Path

ROLLBACK_ENV_FILE = ".runbook/rollback.env"


def parse_env_file(text: str) -> dict[str, str]:
    """Parse ``NAME=value`` lines (``#`` comments, optional ``export``)."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        stripped = stripped.removeprefix("export ").strip()
        name, sep, value = stripped.partition("=")
        if sep:
            values[name.strip()] = value.strip().strip("'\"")
    return values


def render_env_file(variables: Mapping[str, str], note: str = "") -> str:
    """The file's text for ``variables``, with a header saying who wrote it and why."""
    header = "# Written by runbook: variables every process of this target runs with.\n"
    if note:
        header += f"# {note}\n"
    return header + "".join(f"{name}={value}\n" for name, value in variables.items())


def read_rollback_env(root: Path) -> dict[str, str]:
    """The variables a rollback asked every process of the target to run with."""
    path = root / ROLLBACK_ENV_FILE
    return parse_env_file(path.read_text(encoding="utf-8")) if path.is_file() else {}


def export_lines(variables: Mapping[str, str]) -> list[str]:
    """Shell lines an operator pastes to apply the rollback in their own shell."""
    return [f"export {name}={shlex.quote(value)}" for name, value in variables.items()]
