"""The plots' files: drawn partly in a forked child, the same bytes as drawn here, never lost."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib
import pytest
from matplotlib.figure import Figure

from runbook_lib.parity import plotfiles, plots
from runbook_lib.parity.engine import ParityReport
from tests.parity.test_plots import report_for


@pytest.fixture
def reproducible_svg(monkeypatch: pytest.MonkeyPatch) -> None:
    """SVG ids and dates that do not change from one drawing to the next."""
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "0")
    monkeypatch.setitem(matplotlib.rcParams, "svg.hashsalt", "runbook-test")


def _files(directory: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(directory.iterdir())}


@pytest.mark.usefixtures("reproducible_svg")
def test_the_childs_share_is_byte_for_byte_what_this_process_draws(tmp_path: Path) -> None:
    report = report_for(-0.2)
    here = plotfiles.save_figures(report, tmp_path / "here", plots.PLOTS, child_share=frozenset())
    shared = plots.save_all(report_for(-0.2), tmp_path / "shared")
    assert _files(tmp_path / "here") == _files(tmp_path / "shared")
    assert {name: [p.name for p in paths] for name, paths in here.items()} == {
        name: [p.name for p in paths] for name, paths in shared.items()
    }


def test_a_child_that_dies_leaves_its_plots_to_this_process(tmp_path: Path) -> None:
    parent = os.getpid()

    def dies_in_a_child(report: ParityReport) -> Figure:
        if os.getpid() != parent:
            os._exit(3)  # the forked child ends without a word
        return plots.divergence(report)

    makers = {"paired_rewards": plots.paired_rewards, "divergence": dies_in_a_child}
    report = report_for(-0.2)
    written = plotfiles.save_figures(
        report, tmp_path, makers, child_share=frozenset({"divergence"})
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        f"parity_{name}.{ext}" for name in makers for ext in ("png", "svg")
    )
    png = written["divergence"][0].read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert "results: FAIL" in written["divergence"][1].read_text(encoding="utf-8")
    kept = plots.divergence(report)  # the figure drawn here is the one kept, with its PNG
    assert plots.written_png(kept) == png
