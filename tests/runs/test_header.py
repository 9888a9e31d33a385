"""The header cell of an executed notebook: escaped, complete, first."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import nbformat

from runbook_lib.incident.model import Incident, Transition
from runbook_lib.runs.header import HEADER_TAG, RunHeader, headed_copy


def _header(title: str, parameters: dict[str, object]) -> RunHeader:
    incident = Incident(
        "INC-1",
        title,
        "high",
        "crash",
        (Transition("opened", datetime(2026, 1, 1, tzinfo=UTC), ""),),
    )
    return RunHeader(
        incident, Path("/t"), "a" * 40, 2, "me", "box", "2026-01-01T00:00:00+00:00", parameters
    )


def test_header_escapes_the_title_and_reads_without_reprs() -> None:
    text = _header("a <b> | c", {"incident": "", "episodes": 4}).markdown("03_parity.ipynb")
    assert "## INC-1: a &lt;b&gt; \\| c" in text
    assert "aaaaaaaaaaaa (2 uncommitted change(s))" in text
    assert "incident = empty; episodes = 4" in text
    assert "None" not in text and "{}" not in text
    assert "none given" in _header("t", {}).markdown("x.ipynb")


def test_header_shows_the_start_as_a_readable_utc_moment() -> None:
    text = _header("t", {}).markdown("x.ipynb")
    assert "| **started** | 2026-01-01 00:00:00 UTC |" in text
    assert "T00:00:00" not in text and "+00:00" not in text


def test_headed_copy_puts_the_header_first_and_keeps_the_name(tmp_path: Path) -> None:
    source = tmp_path / "01_x.ipynb"
    book = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])
    nbformat.write(book, source)
    with headed_copy(source, _header("t", {})) as copy:
        assert copy.name == source.name and copy != source
        cells = nbformat.read(copy, as_version=4).cells
        assert cells[0].metadata["tags"] == [HEADER_TAG] and "INC-1" in cells[0].source
        assert cells[1].source == "x = 1"
    assert not copy.exists()
