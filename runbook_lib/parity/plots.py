"""Parity plots an on-call engineer reads in seconds.

Every function maps a :class:`~runbook_lib.parity.engine.ParityReport` to a
matplotlib figure with a title, labelled axes (with units) and the verdict
written on it. :func:`save_all` writes each as PNG and SVG (see
:mod:`~runbook_lib.parity.plotfiles`: drawn on two cores, each figure once).
Figures are built with the object API (no pyplot), so they render with Agg and
need no display, and notebooks show them inline.

A figure :func:`save_all` wrote is kept while its report lives: asking for it
again (the parity notebook shows each plot after the run saved them) returns
that figure, and :func:`written_png` its PNG as written, so nothing is built or
drawn twice.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.layout_engine import ConstrainedLayoutEngine

from runbook_lib.parity.engine import ParityReport
from runbook_lib.parity.plotfiles import PlotFunction, save_figures, written_png
from runbook_lib.parity.plotfiles import kept as _kept

__all__ = ["written_png"]  # re-exported: the notebooks take it from here with the plots

_COLORS = {"PASS": "#1a7f37", "FAIL": "#cf222e", "INCONCLUSIVE": "#9a6700"}
LEGACY_COLOR, CANDIDATE_COLOR = "#0969da", "#bc4c00"


def _stamp(fig: Figure, report: ParityReport) -> None:
    fig.text(
        0.99,
        0.01,
        f"results: {report.verdict}",
        ha="right",
        va="bottom",
        fontsize=10,
        fontweight="bold",
        color=_COLORS[report.verdict],
    )
    fig.text(
        0.01,
        0.01,
        f"{report.episodes} episodes, {report.steps} steps",
        ha="left",
        va="bottom",
        fontsize=8,
        color="#57606a",
    )


def _legend(ax: Axes, **options: object) -> None:
    # Every episode may have crashed: then there is nothing to label.
    if ax.get_legend_handles_labels()[0]:
        ax.legend(**options)


def _figure(report: ParityReport, title: str) -> tuple[Figure, Axes]:
    fig = Figure(figsize=(6.4, 4.4), layout=ConstrainedLayoutEngine(rect=(0, 0.04, 1, 0.96)))
    ax = fig.subplots()
    ax.set_title(title)
    ax.grid(alpha=0.3)
    _stamp(fig, report)
    return fig, ax


@_kept
def paired_rewards(report: ParityReport) -> Figure:
    """Each episode's total reward, legacy against candidate, with the line y = x."""
    fig, ax = _figure(report, "Paired episode reward (legacy vs candidate)")
    done = [r for r in report.records if r.error is None]
    x = np.array([r.legacy_reward for r in done])
    y = np.array([r.candidate_reward for r in done])
    if x.size:
        low, high = float(min(x.min(), y.min())), float(max(x.max(), y.max()))
        pad = max(1.0, 0.05 * (high - low))
        ax.plot(
            [low - pad, high + pad],
            [low - pad, high + pad],
            color="#57606a",
            lw=1,
            ls="--",
            label="y = x (parity)",
        )
        ax.scatter(x, y, color=CANDIDATE_COLOR, s=24, label="episode")
    ax.set_xlabel("legacy total reward (reward units per episode)")
    ax.set_ylabel("candidate total reward (reward units per episode)")
    _legend(ax, loc="upper left")
    return fig


@_kept
def distributions(report: ParityReport) -> Figure:
    """Empirical CDF of each metric for both envs, one panel per metric."""
    names = list(report.metrics)
    layout = ConstrainedLayoutEngine(rect=(0, 0.05, 1, 0.95))
    fig = Figure(figsize=(4.2 * max(len(names), 1), 4.0), layout=layout)
    axes = fig.subplots(1, max(len(names), 1), squeeze=False)
    fig.suptitle("Metric distributions over episodes (ECDF)")
    done = [r for r in report.records if r.error is None]
    for ax, name in zip(axes[0], names, strict=False):
        if name == "total_reward":
            left = [r.legacy_reward for r in done]
            right = [r.candidate_reward for r in done]
            unit = "reward units per episode"
        else:
            left = [r.legacy_info[name] for r in done if name in r.legacy_info]
            right = [r.candidate_info[name] for r in done if name in r.candidate_info]
            unit = "fraction of requests" if "probability" in name else "value"
        for values, label, color in (
            (left, "legacy", LEGACY_COLOR),
            (right, "candidate", CANDIDATE_COLOR),
        ):
            ordered = np.sort(values)
            ax.step(
                ordered,
                np.arange(1, ordered.size + 1) / max(ordered.size, 1),
                where="post",
                label=label,
                color=color,
            )
        comparison = report.metrics[name]
        ax.set_title(
            f"{name}: {comparison.verdict} ({comparison.relative_difference:+.2%})", fontsize=10
        )
        ax.set_xlabel(f"{name} ({unit})")
        ax.set_ylabel("share of episodes (cumulative)")
        ax.grid(alpha=0.3)
        _legend(ax, loc="lower right")
    _stamp(fig, report)
    return fig


@_kept
def divergence(report: ParityReport) -> Figure:
    """Cumulative absolute reward gap over all steps, first divergence marked."""
    fig, ax = _figure(report, "Cumulative divergence over steps")
    offset, total, xs, ys = 0, 0.0, [0], [0.0]
    for record in report.records:
        series = np.asarray(record.reward_gap, dtype=float)
        xs += list(offset + np.arange(1, series.size + 1))
        ys += list(total + series)
        offset += series.size
        total += float(series[-1]) if series.size else 0.0
    ax.plot(xs, ys, color=CANDIDATE_COLOR, label="cumulative |reward difference|")
    first = report.first_divergence
    if first is not None:
        before = sum(r.length for r in report.records if r.episode < first["episode"])
        ax.axvline(
            before + first["step"],
            color=_COLORS["FAIL"],
            ls=":",
            label=f"first divergence: ep {first['episode']}, step {first['step']}, "
            f"{first['field']}",
        )
    elif report.crash is None:
        ax.text(
            0.5,
            0.5,
            f"no divergence in {report.steps} steps",
            ha="center",
            transform=ax.transAxes,
            color=_COLORS["PASS"],
        )
    if report.crash is not None:
        ax.axvline(offset, color="black", lw=2, label=f"crash: {report.crash['type']}")
    ax.set_xlabel("step (all episodes, in order)")
    ax.set_ylabel("cumulative |reward difference| (reward units)")
    _legend(ax, loc="upper left", fontsize=8)
    return fig


@_kept
def throughput(report: ParityReport) -> Figure:
    """Steps per second of both envs, with the regression's 95% interval."""
    fig, ax = _figure(report, "Throughput (measured interleaved, same process)")
    values = [report.legacy_steps_per_s, report.candidate_steps_per_s]
    low_pct, high_pct = report.throughput_ci_pct
    candidate_low = report.legacy_steps_per_s * (1 - high_pct / 100)
    candidate_high = report.legacy_steps_per_s * (1 - low_pct / 100)
    error = [[0, max(0.0, values[1] - candidate_low)], [0, max(0.0, candidate_high - values[1])]]
    ax.bar(
        ["legacy", "candidate"],
        values,
        color=[LEGACY_COLOR, CANDIDATE_COLOR],
        yerr=error,
        capsize=8,
    )
    ax.set_ylabel("throughput (steps/s)")
    ax.set_xlabel("environment")
    # Headroom above the tallest bar and its error bar, so the label never overlaps a bar.
    top = max(values[0], values[1] + error[1][1], candidate_high)
    ax.set_ylim(0, top * 1.3 if top > 0 else 1.0)
    slower = low_pct > 0
    ax.text(
        0.5,
        0.97,
        f"speed: {'REGRESSION ' if slower else ''}"
        f"{report.throughput_regression_pct:+.1f}% slower "
        f"(95% CI {low_pct:+.1f}% .. {high_pct:+.1f}%)",
        transform=ax.transAxes,
        ha="center",
        va="top",
        fontweight="bold",
        color="#cf222e" if slower else "#1a7f37",
    )
    return fig


@_kept
def blocking(report: ParityReport, metric: str = "blocking_probability") -> Figure:
    """Mean blocking probability of both envs with 95% intervals over episodes."""
    fig, ax = _figure(report, "Blocking probability (mean over episodes, 95% CI)")
    done = [r for r in report.records if r.error is None]
    for position, (label, key, color) in enumerate(
        (("legacy", "legacy_info", LEGACY_COLOR), ("candidate", "candidate_info", CANDIDATE_COLOR))
    ):
        values = np.array([getattr(r, key)[metric] for r in done if metric in getattr(r, key)])
        if values.size:
            mean = float(values.mean())
            half = 1.96 * float(values.std(ddof=1)) / np.sqrt(values.size) if values.size > 1 else 0
            ax.errorbar(
                [position],
                [mean],
                yerr=[half],
                fmt="o",
                capsize=8,
                color=color,
                label=f"{label}: {mean:.4f} ± {half:.4f}",
            )
    ax.set_xticks([0, 1], ["legacy", "candidate"])
    ax.set_xlim(-0.6, 1.6)
    ax.set_xlabel("environment")
    ax.set_ylabel("blocking probability (fraction of requests)")
    _legend(ax, loc="best", fontsize=8)
    return fig


@_kept
def mask_validity(report: ParityReport, windows: int = 60) -> Figure:
    """Valid actions in the candidate's mask over time, and how often none was valid.

    Seed 000 §6 alerts when a mask has no valid action. Steps are grouped in
    windows so that thousands of steps stay readable: the line is the mean
    count of valid actions, the red bars the share of steps with none.
    """
    fig, ax = _figure(report, "Action-mask validity over time (candidate)")
    values = np.asarray([v for r in report.records for v in r.mask_valid], dtype=float)
    if values.size and values.max() >= 0:
        size = max(1, int(np.ceil(values.size / windows)))
        starts = np.arange(0, values.size, size)
        means = np.array([values[i : i + size].mean() for i in starts])
        empty = np.array([(values[i : i + size] == 0).mean() for i in starts])
        centers = starts + size / 2
        ax.plot(centers, means, color=CANDIDATE_COLOR, label="mean valid actions per window")
        ax.set_ylim(bottom=0)
        share = ax.twinx()
        share.bar(
            centers,
            empty * 100,
            width=size * 0.9,
            color=_COLORS["FAIL"],
            alpha=0.35,
            label=f"steps with no valid action ({int((values == 0).sum())} in all)",
        )
        share.set_ylabel("steps with no valid action (% of window)")
        share.set_ylim(0, max(5.0, float(empty.max()) * 100 * 1.2))
        lines = ax.get_legend_handles_labels()
        bars = share.get_legend_handles_labels()
        ax.legend(lines[0] + bars[0], lines[1] + bars[1], loc="lower right", fontsize=8)
    else:
        ax.text(
            0.5, 0.5, "the candidate reports no action mask", ha="center", transform=ax.transAxes
        )
    ax.set_xlabel(f"step (all episodes, in order; windows of {max(1, values.size // windows)})")
    ax.set_ylabel("valid actions in the mask (mean count)")
    return fig


PLOTS: dict[str, PlotFunction] = {
    "paired_rewards": paired_rewards,
    "distributions": distributions,
    "divergence": divergence,
    "throughput": throughput,
    "blocking": blocking,
    "mask_validity": mask_validity,
}


def save_all(
    report: ParityReport, directory: Path, *, skip: frozenset[str] = frozenset()
) -> dict[str, list[Path]]:
    """Write every plot (but those in ``skip``) as PNG and SVG into ``directory``.

    Returns:
        The files written, per plot name.
    """
    return save_figures(report, directory, PLOTS, skip=skip)
