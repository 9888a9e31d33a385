"""What a reviewer reads in a drill's executed notebooks: a header first, no Python reprs."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest

from runbook_lib.incident.store import incident_dir, load_incident
from tests.drillutil import DrillRunner

REPRS = {"None", "{}", "[]", "()"}


class _Cells(HTMLParser):
    """The text of each top-level notebook cell and of every table cell of an HTML export."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: list[str] = []
        self.tds: list[str] = []
        self._td: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        classes = (dict(attrs).get("class") or "").split()
        if tag == "div" and "jp-Cell" in classes:
            self.cells.append("")
        if tag == "td":
            self._td = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._td is not None:
            self.tds.append("".join(self._td).strip())
            self._td = None

    def handle_data(self, data: str) -> None:
        if self.cells:
            self.cells[-1] += data
        if self._td is not None:
            self._td.append(data)


def _parsed(html: Path) -> _Cells:
    parser = _Cells()
    parser.feed(html.read_text(encoding="utf-8"))
    return parser


def _output_table_cells(notebook: Path) -> list[str]:
    cells = []
    for cell in nbformat.read(notebook, as_version=4).cells:
        for output in cell.get("outputs", []):
            html = output.get("data", {}).get("text/html", "")
            cells += [
                re.sub(r"<[^>]+>", "", td).strip()
                for td in re.findall(r"<td[^>]*>(.*?)</td>", html, re.S)
            ]
    return cells


def _output_table_headers(notebook: Path) -> list[str]:
    headers = []
    for cell in nbformat.read(notebook, as_version=4).cells:
        for output in cell.get("outputs", []):
            html = output.get("data", {}).get("text/html", "")
            headers += [
                re.sub(r"<[^>]+>", "", th).strip()
                for th in re.findall(r"<th[^>]*>(.*?)</th>", html, re.S)
            ]
    return headers


@pytest.fixture(scope="module")
def drill(executed_drill: DrillRunner) -> tuple[Path, str]:
    """The session's result-bug drill (shared with test_drill.py; these tests only read it)."""
    executed = executed_drill("result-bug", episodes=4)
    assert [r["status"] for r in executed.report.runs] == ["ok"] * 6, executed.report.runs
    return executed.archive, executed.report.incident


@pytest.mark.slow
def test_each_run_html_starts_with_a_header_naming_the_incident(drill: tuple[Path, str]) -> None:
    archive, incident_id = drill
    incident = load_incident(archive, incident_id)
    htmls = sorted((incident_dir(archive, incident_id) / "runs").glob("*.html"))
    assert len(htmls) == 6
    for html in htmls:
        first = _parsed(html).cells[0]
        assert incident.id in first, html.name
        assert incident.title in first, html.name
        for fact in ("severity", "git commit", "run by", "started", "parameters"):
            assert fact in first, (html.name, fact)


@pytest.mark.slow
def test_no_table_cell_of_any_run_is_a_python_repr(drill: tuple[Path, str]) -> None:
    archive, incident_id = drill
    runs = incident_dir(archive, incident_id) / "runs"
    checked = 0
    for notebook in sorted(runs.glob("*.ipynb")):
        cells = _output_table_cells(notebook) + _parsed(notebook.with_suffix(".html")).tds
        bad = [c for c in cells if c in REPRS]
        assert not bad, (notebook.name, bad)
        checked += len(cells)
    assert checked > 50


@pytest.mark.slow
def test_postmortem_run_shows_the_document_and_parity_both_verdicts(
    drill: tuple[Path, str],
) -> None:
    archive, incident_id = drill
    runs = incident_dir(archive, incident_id) / "runs"
    postmortem = _parsed(next(runs.glob("*-06_postmortem.html")))
    assert any("Phases against seed 003's estimates" in c for c in postmortem.cells)
    parity = "".join(_parsed(next(runs.glob("*-03_parity.html"))).cells)
    assert "results: " in parity and "speed: " in parity


@pytest.mark.slow
def test_report_embeds_parity_verdicts_numbers_and_plots(
    drill: tuple[Path, str], tmp_path: Path
) -> None:
    import tarfile

    from runbook_lib.comms.bundle import write_report

    archive, incident_id = drill
    bundle = write_report(archive, incident_id, tmp_path / "report.tar.gz", [])
    with tarfile.open(bundle) as tar:
        member = tar.extractfile(f"{incident_id}/index.html")
        assert member is not None
        page = member.read().decode()
    assert "<h2>Parity</h2>" in page and "results: <b" in page and "speed: <b" in page
    # the plots are inlined (the page prints and mails whole), the throughput plot first
    plots = re.findall(r'<img src="data:image/png;base64,[^"]+" alt="([^"]+)"', page)
    assert plots and plots[0] == "parity/parity_throughput.png"
    assert re.search(r"<td>±5%</td>", page)  # the margin in percent, as the seed speaks
    cells = [
        re.sub(r"<[^>]+>", "", td).strip() for td in re.findall(r"<td[^>]*>(.*?)</td>", page, re.S)
    ]
    assert not [c for c in cells if c in REPRS]


@pytest.mark.slow
def test_tables_label_their_units_and_speak_in_percent(drill: tuple[Path, str]) -> None:
    archive, incident_id = drill
    runs = incident_dir(archive, incident_id) / "runs"
    for notebook in sorted(runs.glob("*.ipynb")):
        raw = [h for h in _output_table_headers(notebook) if re.search(r"_(s|h|pct)$", h)]
        assert not raw, (notebook.name, raw)  # a unit as a field-name suffix, not a label
    parity = next(runs.glob("*-03_parity.ipynb"))
    assert {"difference (%)", "95% CI (%)", "margin (%)"} <= set(_output_table_headers(parity))
    assert "±5%" in _output_table_cells(parity) and "0.05" not in _output_table_cells(parity)
    postmortem = next(runs.glob("*-06_postmortem.ipynb"))
    headers = _output_table_headers(postmortem)
    assert "estimate" in headers and "actual" in headers
    assert "1 h" in _output_table_cells(postmortem)  # the estimate, as the actual reads
