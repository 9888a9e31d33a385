"""The runbook notebooks shipped with the package, found by name.

The notebooks are package data (``runbook_lib/notebooks``, a link to the
repository's ``notebooks/`` directory, copied into a wheel), so a wheel install
runs them as a checkout does. A notebook is named by its file stem
(``03_parity``), by the stem without its number (``parity``) or by a path.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runbook_lib.base.errors import InvalidInputError
from runbook_lib.base.fsutil import atomic_write_bytes

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
_NUMBER = re.compile(r"^\d+_")


@dataclass(frozen=True)
class NotebookInfo:
    """A shipped notebook and the parameters papermill reads from it."""

    name: str
    path: Path
    parameters: dict[str, dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"name": self.name, "path": str(self.path), "parameters": self.parameters}


def shipped() -> list[Path]:
    """The shipped notebooks, in their numbered order."""
    return sorted(NOTEBOOKS.glob("[0-9]*.ipynb"))


def find_notebook(name: str) -> Path:
    """The notebook called ``name`` (``03_parity``, ``parity``) or at path ``name``.

    Raises:
        InvalidInputError: no such notebook.
    """
    for path in shipped():
        if name in (path.stem, _NUMBER.sub("", path.stem), path.name):
            return path
    given = Path(name)
    if given.suffix == ".ipynb" or given.is_file():
        return given  # run_notebook says clearly when it is missing or unreadable
    known = ", ".join(_NUMBER.sub("", p.stem) for p in shipped())
    raise InvalidInputError(
        f"no notebook {name!r}", hint=f"name one of {known}, or give a path to an .ipynb"
    )


def describe(path: Path) -> NotebookInfo:
    """A notebook with its parameters, read by papermill's own inspection."""
    import papermill

    parameters = papermill.inspect_notebook(str(path))
    return NotebookInfo(path.stem, path, {k: dict(v) for k, v in parameters.items()})


def copy_notebooks(directory: Path, *, force: bool = False) -> list[Path]:
    """Copy the shipped notebooks into ``directory`` (an editable copy for JupyterLab).

    Raises:
        InvalidInputError: a notebook is already there and ``force`` is not set.
    """
    sources = shipped()
    existing = [directory / p.name for p in sources if (directory / p.name).exists()]
    if existing and not force:
        raise InvalidInputError(
            f"{existing[0]} exists; nothing was copied",
            hint="choose another directory, or pass --force",
        )
    directory.mkdir(parents=True, exist_ok=True)
    copied = []
    for source in sources:
        atomic_write_bytes(directory / source.name, source.read_bytes())
        copied.append(directory / source.name)
    return copied
