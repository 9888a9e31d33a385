"""Write and verify ``SHA256SUMS`` manifests (the format of ``sha256sum``).

Each line is ``<64 hex digits>  <relative path>`` (two spaces; ``sha256sum -b``
writes `` *`` instead, which is read too), so ``sha256sum -c SHA256SUMS`` run in
the backup directory checks the same files this module does.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

MANIFEST = "SHA256SUMS"
_LINE = re.compile(r"^([0-9a-fA-F]{64}) [ *](.+)$")


def sha256_file(path: Path) -> str:
    """Return the hex sha256 of a file."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass
class ManifestCheck:
    """What verifying a directory against its manifest found."""

    directory: Path
    ok: list[str] = field(default_factory=list)
    modified: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    unlisted: list[str] = field(default_factory=list)
    malformed: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """True when every listed file is present and intact and nothing else is there."""
        return bool(self.ok) and not (
            self.modified or self.missing or self.unlisted or self.malformed
        )

    def problems(self) -> list[str]:
        """One line per problem, in ``sha256sum -c`` words where it has them."""
        lines = [f"{path}: FAILED (checksum mismatch)" for path in self.modified]
        lines += [f"{path}: FAILED open or read (missing)" for path in self.missing]
        lines += [f"{path}: not listed in {MANIFEST}" for path in self.unlisted]
        lines += [f"{MANIFEST}: {line}" for line in self.malformed]
        if not (self.ok or lines):
            lines.append(f"{MANIFEST} lists no files")
        return lines


def manifest_text(directory: Path, files: Iterable[str]) -> str:
    """Return manifest lines for ``files`` (paths relative to ``directory``), sorted."""
    return "".join(f"{sha256_file(directory / rel)}  {rel}\n" for rel in sorted(files))


def parse_manifest(text: str) -> tuple[dict[str, str], list[str]]:
    """Return ``{path: sha256}`` and the lines that are not in sha256sum format."""
    entries: dict[str, str] = {}
    malformed: list[str] = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        match = _LINE.match(line)
        if match is None or match.group(2).startswith("/") or ".." in Path(match.group(2)).parts:
            malformed.append(f"line {number} is not '<sha256>  <relative path>': {line[:80]!r}")
            continue
        entries[match.group(2)] = match.group(1).lower()
    return entries, malformed


def verify_manifest(directory: Path) -> ManifestCheck:
    """Check every file listed in ``directory/SHA256SUMS`` and look for unlisted ones."""
    report = ManifestCheck(directory)
    manifest = directory / MANIFEST
    if not manifest.is_file():
        report.missing.append(MANIFEST)
        return report
    entries, report.malformed = parse_manifest(manifest.read_text(encoding="utf-8"))
    for rel, expected in sorted(entries.items()):
        path = directory / rel
        if not path.is_file():
            report.missing.append(rel)
        elif sha256_file(path) != expected:
            report.modified.append(rel)
        else:
            report.ok.append(rel)
    present = {p.relative_to(directory).as_posix() for p in directory.rglob("*") if p.is_file()}
    report.unlisted = sorted(present - set(entries) - {MANIFEST})
    return report
