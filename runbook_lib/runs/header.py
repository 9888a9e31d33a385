"""The header cell every executed notebook starts with: whose run, of what, on which tree.

A reviewer opening any run's HTML sees at once which incident it belongs to
(ID, title, severity), the target and its git commit (and whether the tree
had local changes), who ran it where and when, and the parameters as given.
The header is put into a copy of the notebook before papermill runs it, so
the runner itself is unchanged and the cell is in the notebook and its HTML.
"""

from __future__ import annotations

import contextlib
import getpass
import html
import socket
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from runbook_lib.base.fsutil import atomic_write_text
from runbook_lib.base.timefmt import utc_time
from runbook_lib.incident.model import Incident
from runbook_lib.target.gitutil import git

HEADER_TAG = "runbook-header"


@dataclass(frozen=True)
class RunHeader:
    """The facts the header cell shows."""

    incident: Incident
    target: Path
    commit: str
    dirty_files: int
    user: str
    host: str
    started_at: str
    parameters: Mapping[str, Any]

    def markdown(self, notebook: str) -> str:
        """The header as a Markdown cell (values HTML-escaped, no Python reprs)."""
        tree = f"{self.dirty_files} uncommitted change(s)" if self.dirty_files else "clean"
        rows = [
            ("incident", self.incident.id),
            ("title", self.incident.title),
            ("severity", self.incident.severity),
            ("kind", self.incident.kind),
            ("state at start", self.incident.state),
            ("target", str(self.target)),
            ("git commit", f"{self.commit[:12] or 'no commit'} ({tree})"),
            ("run by", f"{self.user} on {self.host}"),
            ("started", utc_time(self.started_at, seconds=True)),
            ("parameters", _parameters_text(self.parameters)),
        ]
        lines = [
            f"## {_cell(self.incident.id)}: {_cell(self.incident.title)}",
            "",
            f"Executed run of `{notebook}`.",
            "",
            "| | |",
            "|---|---|",
        ]
        lines += [f"| **{name}** | {_cell(value)} |" for name, value in rows]
        return "\n".join(lines) + "\n"


def _cell(value: str) -> str:
    # Escaped so that a title can neither inject HTML nor break the table.
    return html.escape(value).replace("|", "\\|").replace("\n", " ") or "—"


def _parameters_text(parameters: Mapping[str, Any]) -> str:
    if not parameters:
        return "none given (the notebook's defaults)"
    shown = []
    for name, value in parameters.items():
        text = "empty" if value in ("", None) else str(value)
        shown.append(f"{name} = {text}")
    return "; ".join(shown)


def read_header(
    incident: Incident, target: Path, started_at: str, parameters: Mapping[str, Any]
) -> RunHeader:
    """Gather the header's facts (git HEAD and local changes of ``target``, user, host)."""
    commit = git(target, ["rev-parse", "--verify", "--quiet", "HEAD"], check=False).strip()
    status = git(target, ["status", "--porcelain"], check=False)
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry and no $USER: say so rather than fail the run
        user = "unknown user"
    return RunHeader(
        incident=incident,
        target=target,
        commit=commit,
        dirty_files=sum(1 for line in status.splitlines() if line.strip()),
        user=user,
        host=socket.gethostname(),
        started_at=started_at,
        parameters=dict(parameters),
    )


@contextlib.contextmanager
def headed_copy(notebook: Path, header: RunHeader) -> Iterator[Path]:
    """A temporary copy of ``notebook`` (same file name) that starts with the header cell."""
    import nbformat as untyped

    nbformat = cast(Any, untyped)  # nbformat is untyped
    book = nbformat.read(notebook, as_version=4)
    cell = nbformat.v4.new_markdown_cell(header.markdown(notebook.name))
    cell.metadata["tags"] = [HEADER_TAG]
    book.cells.insert(0, cell)
    with tempfile.TemporaryDirectory(prefix="runbook-headed-") as directory:
        copy = Path(directory) / notebook.name
        atomic_write_text(copy, nbformat.writes(book))
        yield copy
