# mypy: disallow-untyped-calls=False
"""Small throwaway notebooks for the run and archive tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

PARAMETERS = """\
episodes: int = 3  # how many episodes to run
label: str = "drill"  # free text for the report
ratio: float | None = None  # optional threshold
verbose: bool = False
"""


def make_notebook(path: Path, *cells: str, parameters: str = PARAMETERS) -> Path:
    params = new_code_cell(parameters, metadata={"tags": ["parameters"]})
    nb = new_notebook(cells=[params, *(new_code_cell(source) for source in cells)])
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, path)
    return path


def runbook_executable() -> str:
    """The installed ``runbook`` console script next to this interpreter (what users run)."""
    exe = Path(sys.executable).parent / "runbook"
    if not exe.is_file():
        raise RuntimeError(
            f"no 'runbook' console script at {exe}: install the project into this "
            "environment (pip install -e .) to run the CLI tests"
        )
    return str(exe)


def cli(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    """Run the installed ``runbook`` with ``args`` in a fresh process."""
    return subprocess.run(
        [runbook_executable(), *args],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **(env or {})},
        cwd=cwd,
        timeout=timeout,
    )


def open_incident_cli(archive: Path | str, cwd: Path) -> str:
    """Open a throwaway incident through the CLI (``runbook incident open``); its ID."""
    opened = cli(
        "incident",
        "open",
        "--title",
        "t",
        "--severity",
        "high",
        "--kind",
        "other",
        "--archive",
        str(archive),
        cwd=cwd,
    )
    if opened.returncode != 0:
        raise RuntimeError(f"runbook incident open failed: {opened.stderr.strip()}")
    return opened.stdout.strip()


def output_status(path: Path) -> str:
    return str(nbformat.read(path, as_version=4).metadata["runbook"]["status"])


def cell_text(path: Path) -> str:
    nb = nbformat.read(path, as_version=4)
    return "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))
