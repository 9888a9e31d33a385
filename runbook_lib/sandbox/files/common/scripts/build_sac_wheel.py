"""Build the ``trade-agent-sac`` wheel (PEP 427) from its source tree, offline.

    python scripts/build_sac_wheel.py packages/trade-agent-sac --out wheelhouse

Reads the name, version and metadata from the package's ``pyproject.toml`` and
writes ``<name>-<version>-py3-none-any.whl`` with ``METADATA``, ``WHEEL`` and a
``RECORD`` of sha256 hashes. The same sources always give the same bytes
(fixed timestamps and order), so the wheel's hash identifies its contents.
"""

from __future__ import annotations

import argparse
import base64
import csv
import hashlib
import io
import os
import re
import sys
import tempfile
import tomllib
import zipfile
from pathlib import Path
from typing import Any

_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest date a zip can hold: reproducible bytes
_SKIP = ("__pycache__", ".pyc")


def _dist_name(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"sha256={digest}"


def metadata(project: dict[str, Any]) -> str:
    """Core metadata 2.1 of the ``[project]`` table."""
    lines = [
        "Metadata-Version: 2.1",
        f"Name: {project['name']}",
        f"Version: {project['version']}",
        f"Summary: {project.get('description', '')}",
    ]
    if "requires-python" in project:
        lines.append(f"Requires-Python: {project['requires-python']}")
    lines += [f"Requires-Dist: {req}" for req in project.get("dependencies", [])]
    for extra, requirements in sorted(project.get("optional-dependencies", {}).items()):
        lines.append(f"Provides-Extra: {extra}")
        lines += [f'Requires-Dist: {req}; extra == "{extra}"' for req in requirements]
    return "\n".join(lines) + "\n"


def wheel_contents(source: Path) -> tuple[str, dict[str, bytes]]:
    """Return the wheel's file name and its archive members, dist-info last."""
    project = tomllib.loads((source / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    dist = f"{_dist_name(project['name'])}-{project['version']}"
    package = source / _dist_name(project["name"])
    members = {
        path.relative_to(source).as_posix(): path.read_bytes()
        for path in sorted(package.rglob("*"))
        if path.is_file() and not any(part.endswith(_SKIP) for part in path.parts)
    }
    info = f"{dist}.dist-info"
    members[f"{info}/METADATA"] = metadata(project).encode()
    members[f"{info}/WHEEL"] = (
        b"Wheel-Version: 1.0\nGenerator: build_sac_wheel\n"
        b"Root-Is-Purelib: true\nTag: py3-none-any\n"
    )
    record = io.StringIO()
    writer = csv.writer(record, lineterminator="\n")
    for name, data in members.items():
        writer.writerow([name, _record_hash(data), len(data)])
    writer.writerow([f"{info}/RECORD", "", ""])
    members[f"{info}/RECORD"] = record.getvalue().encode()
    return f"{dist}-py3-none-any.whl", members


def build(source: Path, out: Path) -> Path:
    """Write the wheel into ``out`` (through a temporary file) and return its path."""
    name, members = wheel_contents(source)
    out.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", dir=out)
    os.close(fd)
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for member, data in members.items():
                info = zipfile.ZipInfo(member, date_time=_EPOCH)
                info.external_attr = 0o644 << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, data)
        os.chmod(tmp, 0o644)  # mkstemp makes it private
        os.replace(tmp, out / name)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return out / name


def main() -> int:
    """Build the wheel of the package directory named on the command line."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("source", type=Path, help="package directory holding pyproject.toml")
    parser.add_argument("--out", type=Path, default=Path("wheelhouse"))
    args = parser.parse_args()
    if not (args.source / "pyproject.toml").is_file():
        print(f"build_sac_wheel: {args.source} has no pyproject.toml", file=sys.stderr)
        return 2
    print(build(args.source, args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
