"""``SHA256SUMS`` manifests: parse, write, and verify a directory against one.

The format is ``sha256sum``'s: one ``<64 hex digits>  <relative path>`` line
per file (``sha256sum -b`` writes `` *`` instead of two spaces; both are read).
Verifying a backup before restoring from it answers, file by file, whether it
is intact (``ok``), changed (``modified``, which includes truncated),
gone (``missing``) or there without being listed (``unlisted``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from runbook_lib.base.errors import InvalidInputError
from runbook_lib.base.fsutil import atomic_write_text, iter_files, sha256_file
from runbook_lib.base.report import CheckResult, Status

MANIFEST_NAME = "SHA256SUMS"
_LINE = re.compile(r"^([0-9a-fA-F]{64}) [ *](.+)$")


def _checked_path(raw: str, number: int, source: str) -> str:
    path = PurePosixPath(raw)
    if raw.startswith("\\") or path.is_absolute() or ".." in path.parts or raw != path.as_posix():
        raise InvalidInputError(
            f"{source} line {number}: path {raw!r} must be relative, normalized and without '..'",
            hint="a manifest may only name files inside its own directory",
        )
    return raw


def parse_sha256sums(text: str, *, source: str = MANIFEST_NAME) -> dict[str, str]:
    """Return ``{relative path: sha256}`` from manifest text.

    Args:
        text: The manifest's content.
        source: Name used in error messages (usually the manifest's path).

    Raises:
        InvalidInputError: a line is not in ``sha256sum`` format, names a path
            outside the directory, or lists a path a second time.
    """
    entries: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        match = _LINE.match(line)
        if match is None:
            raise InvalidInputError(
                f"{source} line {number} is not '<sha256>  <path>': {line[:80]!r}",
                hint="regenerate the manifest with sha256sum, or restore it",
            )
        path = _checked_path(match.group(2), number, source)
        if path in entries:
            raise InvalidInputError(f"{source} line {number}: {path} is listed twice")
        entries[path] = match.group(1).lower()
    return entries


def format_sha256sums(entries: Mapping[str, str]) -> str:
    """Return manifest text for ``entries``, sorted by path (``sha256sum`` layout)."""
    return "".join(f"{entries[path]}  {path}\n" for path in sorted(entries))


def write_sha256sums(
    directory: Path, files: Iterable[str] | None = None, *, name: str = MANIFEST_NAME
) -> Path:
    """Hash ``files`` (default: every file under ``directory``) into ``directory/name``.

    Returns:
        The manifest's path; it is written atomically.
    """
    if files is None:
        files = (p.relative_to(directory).as_posix() for p in iter_files(directory))
    listed = sorted(rel for rel in files if rel != name)
    entries = {rel: sha256_file(directory / rel) for rel in listed}
    manifest = directory / name
    atomic_write_text(manifest, format_sha256sums(entries))
    return manifest


@dataclass(frozen=True)
class ChecksumReport:
    """What verifying a directory against its manifest found.

    Attributes:
        directory: The directory verified.
        manifest: The manifest's file name inside it.
        ok: Listed files whose content matches.
        modified: Listed files whose content differs (truncated files included).
        missing: Listed files that are not there.
        unlisted: Files present but not listed (the manifest itself excluded).
        manifest_error: Why the manifest could not be used, if it could not.
    """

    directory: str
    manifest: str
    ok: tuple[str, ...] = ()
    modified: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()
    unlisted: tuple[str, ...] = ()
    manifest_error: str | None = None

    @property
    def passed(self) -> bool:
        """True when the manifest is usable, lists files, and every one is intact with no extras."""
        findings = self.modified or self.missing or self.unlisted or self.manifest_error
        return bool(self.ok) and not findings

    def problems(self) -> list[str]:
        """One line per problem, worded like ``sha256sum -c`` where it has words."""
        lines = [f"{self.manifest}: {self.manifest_error}"] if self.manifest_error else []
        lines += [f"{path}: FAILED (checksum mismatch)" for path in self.modified]
        lines += [f"{path}: FAILED open or read (missing)" for path in self.missing]
        lines += [f"{path}: present but not listed in {self.manifest}" for path in self.unlisted]
        if not (lines or self.ok):
            lines.append(f"{self.manifest} lists no files")
        return lines

    def summary(self) -> str:
        """One line for people."""
        if self.passed:
            return f"{self.directory}: all {len(self.ok)} files match {self.manifest}"
        return f"{self.directory}: " + "; ".join(self.problems())

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (with ``passed``)."""
        return {**asdict(self), "passed": self.passed}

    def to_check(self, name: str = "checksums.verify", *, blocking: bool = True) -> CheckResult:
        """The report as a :class:`~runbook_lib.base.report.CheckResult`."""
        status: Status = "pass" if self.passed else "fail"
        return CheckResult(name, status, self.summary(), self.to_dict(), blocking=blocking)


def verify_directory(directory: Path, manifest: str = MANIFEST_NAME) -> ChecksumReport:
    """Verify every file of ``directory`` against ``directory/manifest``.

    Nothing is changed. A missing or malformed manifest is reported, not raised,
    so that a restore can show why a backup was refused.

    Raises:
        InvalidInputError: ``directory`` is not a directory.
    """
    if not directory.is_dir():
        raise InvalidInputError(f"{directory} is not a directory", hint="give a backup directory")
    where = str(directory)
    path = directory / manifest
    if not path.is_file():
        return ChecksumReport(where, manifest, manifest_error="missing: nothing to verify against")
    try:
        entries = parse_sha256sums(path.read_text(encoding="utf-8"), source=manifest)
    except (InvalidInputError, UnicodeDecodeError) as err:
        return ChecksumReport(where, manifest, manifest_error=str(err))
    ok: list[str] = []
    modified: list[str] = []
    missing: list[str] = []
    for rel, expected in sorted(entries.items()):
        target = directory / rel
        if not target.is_file():
            missing.append(rel)
        elif sha256_file(target) != expected:
            modified.append(rel)
        else:
            ok.append(rel)
    present = {p.relative_to(directory).as_posix() for p in iter_files(directory)}
    unlisted = sorted(present - set(entries) - {manifest})
    return ChecksumReport(
        where, manifest, tuple(ok), tuple(modified), tuple(missing), tuple(unlisted)
    )
