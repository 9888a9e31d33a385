"""Seed 003 step 10: downgrade the target's package to the previous version, offline.

pip installs the pinned version from the target's wheelhouse (``--no-index``)
into a scratch directory in the incident dir; the step is then the exact set of
files to remove (the installed version's RECORD) and to write (the new one's).
The target's site directory is therefore changed one atomic file at a time, the
previous version's files are kept for undo, and pip's ``--target --upgrade``
habit of leaving the old ``.dist-info`` behind cannot occur.
"""

from __future__ import annotations

import csv
import io
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, NamedTuple

from runbook_lib.base import crashpoints
from runbook_lib.base.errors import InvalidInputError, WorkspaceError
from runbook_lib.base.fsutil import iter_files
from runbook_lib.rollback.actions.base import Action, Context, file_change
from runbook_lib.rollback.actions.model import FileChange, Step


def normalize(name: str) -> str:
    """PEP 503 normalized project name."""
    return re.sub(r"[-_.]+", "-", name).lower()


class Installed(NamedTuple):
    """A distribution found in a site directory."""

    name: str
    version: str
    dist_info: str
    files: tuple[str, ...]


def _record_files(site: Path, dist_info: Path) -> list[str]:
    record = dist_info / "RECORD"
    files = {dist_info.relative_to(site).as_posix() + "/" + p.name for p in dist_info.iterdir()}
    if record.is_file():
        for row in csv.reader(io.StringIO(record.read_text(encoding="utf-8"))):
            if not row:
                continue
            resolved = (site / row[0]).resolve()
            if resolved.is_relative_to(site.resolve()) and resolved.is_file():
                files.add(resolved.relative_to(site.resolve()).as_posix())
    return sorted(files)


def installed(site: Path, package: str) -> list[Installed]:
    """Every installed version of ``package`` in ``site`` (more than one is a broken state)."""
    found: list[Installed] = []
    if not site.is_dir():
        return found
    for dist_info in sorted(site.glob("*.dist-info")):
        metadata = dist_info / "METADATA"
        if not metadata.is_file():
            continue
        fields = dict(
            line.split(": ", 1)
            for line in metadata.read_text(encoding="utf-8").splitlines()
            if ": " in line and not line.startswith(" ")
        )
        if normalize(fields.get("Name", "")) == normalize(package):
            files = tuple(_record_files(site, dist_info))
            version = fields.get("Version", "?")
            found.append(Installed(fields["Name"], version, dist_info.name, files))
    return found


def _wheel_for(wheelhouse: Path, package: str, version: str) -> Path:
    stem = f"{normalize(package).replace('-', '_')}-{version}-"
    wheels = sorted(p for p in wheelhouse.glob("*.whl") if p.name.lower().startswith(stem))
    if not wheels:
        available = ", ".join(sorted(p.name for p in wheelhouse.glob("*.whl"))) or "none"
        raise InvalidInputError(
            f"no wheel of {package}=={version} in {wheelhouse}",
            hint=f"wheels there: {available}",
        )
    return wheels[0]


def pip_install_command(
    python: str, wheelhouse: Path, target: Path, package: str, version: str
) -> list[str]:
    """The offline pip command that installs exactly ``package==version``."""
    return [
        python,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--no-index",
        "--find-links",
        str(wheelhouse),
        "--target",
        str(target),
        "--no-compile",
        "--no-deps",
        "--disable-pip-version-check",
        f"{package}=={version}",
    ]


def _pip(command: list[str]) -> None:
    env = {**os.environ, "PIP_CONSTRAINT": "", "PIP_NO_INPUT": "1"}
    proc = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        raise WorkspaceError(f"pip failed: {proc.stderr.strip() or proc.stdout.strip()}")


class PackageAction(Action):
    """Install ``package==version`` into the target's site dir from its wheelhouse."""

    name: ClassVar[str] = "package"

    def __init__(self, package: str, version: str, wheelhouse: str, site: str) -> None:
        """Install ``package==version`` from ``wheelhouse`` into ``site`` (both under the root)."""
        self.package = package
        self.version = version
        self.wheelhouse = wheelhouse
        self.site = site

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> PackageAction:
        """Rebuild from a step's params."""
        return cls(**{k: str(params[k]) for k in ("package", "version", "wheelhouse", "site")})

    def params(self) -> dict[str, Any]:
        """What :meth:`from_params` needs."""
        return {
            "package": self.package,
            "version": self.version,
            "wheelhouse": self.wheelhouse,
            "site": self.site,
        }

    def plan(self, root: Path) -> Step:
        """Install into a scratch dir with pip, then diff it against the site dir."""
        wheelhouse, site = root / self.wheelhouse, root / self.site
        _wheel_for(wheelhouse, self.package, self.version)
        current = installed(site, self.package)
        previous = ", ".join(dist.version for dist in current) or "not installed"
        blobs: dict[str, bytes] = {}
        changes: list[FileChange] = []
        with tempfile.TemporaryDirectory(prefix="runbook-pip-") as scratch:
            fresh = Path(scratch) / "site"
            _pip(pip_install_command(sys.executable, wheelhouse, fresh, self.package, self.version))
            new_files = {
                p.relative_to(fresh).as_posix(): p.read_bytes()
                for p in iter_files(fresh, skip_dirs=frozenset({"__pycache__"}))
            }
        old_files = {f for dist in current for f in dist.files}
        for relative in sorted(old_files - set(new_files)):
            summary = f"file of {self.package} {previous}"
            change = file_change(root, f"{self.site}/{relative}", None, summary, blobs)
            if change:
                changes.append(change)
        for relative, content in sorted(new_files.items()):
            summary = f"file of {self.package} {self.version}"
            change = file_change(root, f"{self.site}/{relative}", content, summary, blobs)
            if change:
                changes.append(change)
        command = pip_install_command(
            "python", Path(self.wheelhouse), Path(self.site), self.package, self.version
        )
        return Step(
            action=self.name,
            title=f"install {self.package} {self.version} (was {previous}) into {self.site}",
            changes=tuple(changes),
            commands=(" ".join(command), f"PYTHONPATH={self.site} python -m pip check"),
            params={**self.params(), "previous": previous},
            blobs=blobs,
        )

    def run(self, step: Step, ctx: Context) -> None:
        """Remove empty package directories the old version leaves."""
        crashpoints.reach("prune empty dirs")
        _prune_empty_dirs(ctx.root / self.site)

    def unrun(self, step: Step, ctx: Context) -> None:
        """Nothing to do before the files are put back."""
        return None

    def undo(self, step: Step, ctx: Context) -> None:
        """Put the previous version's files back and prune what the new one left."""
        super().undo(step, ctx)
        _prune_empty_dirs(ctx.root / self.site)

    def verify_state(self, step: Step, ctx: Context) -> list[str]:
        """Exactly the pinned version is installed and ``pip check`` finds no conflict."""
        site = ctx.root / self.site
        versions = [dist.version for dist in installed(site, self.package)]
        problems = (
            []
            if versions == [self.version]
            else [
                f"{self.package} installed versions in {self.site}: {versions or 'none'}, "
                f"expected [{self.version}]"
            ]
        )
        env = {**os.environ, "PYTHONPATH": str(site)}
        proc = subprocess.run(
            [ctx.python, "-m", "pip", "check"], capture_output=True, text=True, env=env, check=False
        )
        if proc.returncode != 0:
            problems.append(f"pip check: {proc.stdout.strip() or proc.stderr.strip()}")
        return problems


def _prune_empty_dirs(site: Path) -> None:
    if not site.is_dir():
        return
    # Orphaned bytecode in __pycache__ is ignored by Python once its source is
    # gone, so caches are left alone; only truly empty directories go.
    for directory in sorted((p for p in site.rglob("*") if p.is_dir()), reverse=True):
        if not any(directory.iterdir()):
            directory.rmdir()
