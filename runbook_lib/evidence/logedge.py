"""The transparency log's right edge, kept beside it, so that an append reads and hashes O(log n).

``<archive>/transparency/log.edge.json`` says, for the log as the last
append left it, which file the log was (device, inode, size, modification and
change times), how many entries it held and its tree's right edge
(:func:`runbook_lib.evidence.merkle.extend_edge`). An append
(:func:`runbook_lib.evidence.translog.append`) takes the new leaf's root and
audit path from it instead of reading and hashing the whole log again.

It is derived data, never evidence: written in place under the log's lock,
without a flush, behind a sha256 of its own content. An append trusts it only
while the log is still exactly the file it describes; anything else (a crash
between the log's flush and this file's write, a torn line, an append by an
older runbook, an edit of the log, this file damaged or missing) makes that
append read and hash the whole log once, as every append did before. Nothing
that verifies reads it: verification recomputes every leaf from the log.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

from runbook_lib.base.fsutil import sha256_bytes

EDGE_FILE = "log.edge.json"

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_FLAGS = _NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


class Edge(NamedTuple):
    """A log's tree as an append needs it: entries, bytes of complete lines, right edge."""

    size: int
    keep: int
    hashes: list[bytes]


def edge_path(log: Path) -> Path:
    """Where the right edge of the log file ``log`` is kept."""
    return log.with_name(EDGE_FILE)


def _identity(log: os.stat_result) -> list[int]:
    return [log.st_dev, log.st_ino, log.st_size, log.st_mtime_ns, log.st_ctime_ns]


def _read(path: Path) -> bytes | None:
    try:
        fd = os.open(path, os.O_RDONLY | _FLAGS)
    except OSError:
        return None
    try:
        chunks = []
        while chunk := os.read(fd, 1 << 16):
            chunks.append(chunk)
    except OSError:
        return None
    finally:
        os.close(fd)
    return b"".join(chunks)


def load(log: Path, status: os.stat_result) -> Edge | None:
    """The kept edge of ``log`` if it describes the file of status ``status``, else ``None``."""
    data = _read(edge_path(log))
    if data is None:
        return None
    digest, _, body = data.partition(b"\n")
    if digest != sha256_bytes(body).encode():
        return None  # torn, damaged or planted
    try:
        kept = json.loads(body)
        size, identity = int(kept["size"]), kept["log"]
        hashes = [bytes.fromhex(value) for value in kept["edge"]]
    except (ValueError, KeyError, TypeError):
        return None
    if (
        identity != _identity(status)
        or size < 0
        or len(hashes) != size.bit_count()
        or any(len(value) != 32 for value in hashes)
    ):
        return None
    return Edge(size, status.st_size, hashes)


def save(log: Path, size: int, hashes: Sequence[bytes], status: os.stat_result) -> None:
    """Keep the edge of ``log`` (``size`` entries, ``status`` the file's after the append).

    A failure to write it costs the next append a full read of the log, nothing
    else, so it is not raised.
    """
    body = json.dumps(
        {"log": _identity(status), "size": size, "edge": [value.hex() for value in hashes]},
        separators=(",", ":"),
    ).encode()
    data = sha256_bytes(body).encode() + b"\n" + body
    try:
        fd = os.open(edge_path(log), os.O_WRONLY | os.O_CREAT | _FLAGS, 0o644)
    except OSError:
        return
    try:
        view = memoryview(data)
        offset = 0
        while offset < len(data):
            offset += os.pwrite(fd, view[offset:], offset)
        os.ftruncate(fd, len(data))
    except OSError:
        pass
    finally:
        os.close(fd)
