from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any, cast

import numpy as np
import pytest
from matplotlib.figure import Figure
from matplotlib.text import Text

from runbook_lib.parity import plots
from runbook_lib.parity.engine import ParityReport, build_report
from runbook_lib.parity.lockstep import EpisodeRecord, ParitySpec


def fake_records(bias: float, episodes: int = 8, steps: int = 50) -> list[EpisodeRecord]:
    rng = np.random.default_rng(0)
    records = []
    for episode in range(episodes):
        rewards = rng.choice([1.0, -1.0], p=[0.9, 0.1], size=steps)
        gap = np.cumsum(np.full(steps, abs(bias)))
        blocking = float((rewards < 0).mean())
        records.append(
            EpisodeRecord(
                episode=episode,
                seed=episode,
                length=steps,
                legacy_reward=float(rewards.sum()),
                candidate_reward=float(rewards.sum() + bias * steps),
                legacy_info={"blocking_probability": blocking},
                candidate_info={"blocking_probability": blocking},
                agreeing_steps=steps if bias == 0 else 0,
                first_divergence=None
                if bias == 0
                else {
                    "episode": 0,
                    "step": 1,
                    "field": "reward",
                    "legacy": 1.0,
                    "candidate": 1.0 + bias,
                },
                legacy_seconds=0.01,
                candidate_seconds=0.015,
                reward_gap=gap.tolist(),
                mask_valid=rng.integers(0, 4, size=steps).tolist(),
            )
        )
    return records


def report_for(bias: float) -> ParityReport:
    spec = ParitySpec(root=".", factory="m:f", seeds=tuple(range(8)))
    return build_report(spec, fake_records(bias))


def texts(fig: Figure) -> list[str]:
    return [t.get_text() for t in fig.findobj(Text) if isinstance(t, Text)]


@pytest.mark.parametrize("name", list(plots.PLOTS))
@pytest.mark.parametrize(("bias", "verdict"), [(0.0, "PASS"), (-0.2, "FAIL")])
def test_each_plot_has_title_labels_with_units_and_verdict(
    name: str, bias: float, verdict: str
) -> None:
    report = report_for(bias)
    assert report.verdict == verdict
    fig = plots.PLOTS[name](report)
    axes = fig.get_axes()
    assert axes
    main = axes[0]
    assert main.get_title() or fig.get_suptitle()
    assert "(" in main.get_ylabel()  # a unit in parentheses
    assert "(" in main.get_xlabel() or main.get_xlabel() == "environment"  # categorical axis
    assert f"results: {verdict}" in texts(fig)


def test_divergence_plot_marks_the_first_divergence() -> None:
    fig = plots.divergence(report_for(-0.2))
    labels = fig.get_axes()[0].get_legend_handles_labels()[1]
    assert any("first divergence: ep 0, step 1, reward" in label for label in labels)
    assert "no divergence in 400 steps" in texts(plots.divergence(report_for(0.0)))


def test_throughput_plot_states_the_regression() -> None:
    report = report_for(0.0)
    assert round(report.throughput_regression_pct, 1) == 33.3
    fig = plots.throughput(report)
    assert any("speed: REGRESSION +33.3% slower" in t for t in texts(fig))


def test_throughput_label_overlaps_no_bar() -> None:
    fig = plots.throughput(report_for(0.0))
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    renderer = cast(Any, FigureCanvasAgg(fig)).get_renderer()
    ax = fig.get_axes()[0]
    label = next(t for t in ax.texts if t.get_text().startswith("speed:"))
    box = label.get_window_extent(renderer)
    for bar in ax.patches:
        assert not box.overlaps(bar.get_window_extent(renderer)), label.get_text()


def test_save_all_writes_png_and_svg(tmp_path: Path) -> None:
    written = plots.save_all(report_for(-0.2), tmp_path)
    assert set(written) == set(plots.PLOTS)
    for paths in written.values():
        png, svg = paths
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
        root = ET.parse(svg).getroot()
        assert root.tag.endswith("svg")
        assert "results: FAIL" in svg.read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        f"parity_{n}.{e}" for n in plots.PLOTS for e in ("png", "svg")
    )


def test_a_saved_plot_is_shown_as_written_not_built_again(tmp_path: Path) -> None:
    from runbook_lib.app.nb import figure

    report = report_for(-0.2)
    fresh = plots.paired_rewards(report_for(-0.2))
    assert plots.written_png(fresh) is None  # nothing saved for that report
    written = plots.save_all(report, tmp_path)
    for name, make in plots.PLOTS.items():
        shown = make(report)
        assert make(report) is shown  # the figure save_all wrote, kept with its report
        png = written[name][0].read_bytes()
        assert plots.written_png(shown) == png
        assert figure(shown)._repr_png_() == png  # the notebook shows the archived file
    assert plots.paired_rewards(report_for(-0.2)) is not plots.paired_rewards(report)
    # A figure never saved is drawn for the notebook as before.
    assert figure(fresh)._repr_png_()[:8] == b"\x89PNG\r\n\x1a\n"
    assert plots.blocking(report, metric="blocking_probability") is not plots.blocking(report)
