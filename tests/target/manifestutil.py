"""The sandbox's manifest text and the helpers that write variants of it and read their errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from runbook_lib.base.errors import InvalidInputError
from runbook_lib.target.manifest import MANIFEST_NAME, load_manifest

CODE_PATHS = (
    'code_paths = ["src/rl/sac/", "docs/agents/", "tests/rl/sac/", "packages/trade-agent-sac/"]'
)
SANDBOX_MANIFEST = (
    Path(__file__).resolve().parents[2]
    / "runbook_lib"
    / "sandbox"
    / "files"
    / "common"
    / MANIFEST_NAME
)
TEXT = SANDBOX_MANIFEST.read_text(encoding="utf-8")


def line_of(text: str, needle: str) -> int:
    # A needle may span lines; it is found at the line where it starts.
    starts = [i for i in range(len(text)) if text.startswith(needle, i)]
    matches = [text.count("\n", 0, i) + 1 for i in starts]
    assert len(matches) == 1, f"{needle!r} occurs {len(matches)} times"
    return matches[0]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / MANIFEST_NAME
    path.write_text(text, encoding="utf-8")
    return path


def variant(old: str, new: str) -> str:
    assert TEXT.count(old) == 1, f"{old!r} is not unique in the sandbox manifest"
    return TEXT.replace(old, new)


def load_error(tmp_path: Path, text: str) -> str:
    path = write(tmp_path, text)
    with pytest.raises(InvalidInputError) as info:
        load_manifest(path)
    return str(info.value)


def assert_names_key_file_and_line(
    tmp_path: Path, old: str, new: str, line_text: str, expected: list[str]
) -> None:
    """The variant's load error names the file and the line of ``line_text``, and says ``expected``."""
    text = variant(old, new)
    message = load_error(tmp_path, text)
    assert f"{tmp_path / MANIFEST_NAME}:{line_of(text, line_text)}:" in message, message
    for part in expected:
        assert part in message, message
