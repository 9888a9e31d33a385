"""The parity plots' files: each figure drawn once, as PNG and SVG, on two cores when there are.

Drawing (the layout, the text, the pixels) is nearly all of a plot's cost and
each figure's drawing is independent of the others'. :func:`save_figures`
therefore forks one child that builds and draws a share of the figures while
this process draws the rest; the child sends the PNG and SVG bytes back and
this process writes every file itself (atomically), so a child that fails or
dies leaves nothing in the evidence: its figures are then drawn here, as they
would have been without it. The bytes are the same either way: the child
draws the very figure this process would (built from the same report by the
same function).

A figure :func:`save_figures` wrote is kept while its report lives: asking for
it again (the parity notebook shows each plot after the run saved them)
returns that figure, and :func:`written_png` its PNG as written, so nothing is
built or drawn twice.
"""

from __future__ import annotations

import functools
import io
import multiprocessing
import os
import sys
import weakref
from collections.abc import Callable, Mapping, Sequence
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Concatenate, ParamSpec

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.backends.backend_svg import FigureCanvasSVG
from matplotlib.figure import Figure
from matplotlib.image import imsave

from runbook_lib.base.fsutil import atomic_write_bytes
from runbook_lib.parity.engine import ParityReport

DPI = 110
# The figures the child draws: about half of the drawing (this process also builds them all).
CHILD_SHARE = frozenset({"distributions", "divergence", "blocking"})
# A child that has not answered by then is stopped and its figures are drawn here.
CHILD_TIMEOUT_S = 120.0
# Figures save_figures wrote, per report (by id, dropped with the report), and their PNG bytes.
_SAVED: dict[int, dict[str, Figure]] = {}
_PNG: weakref.WeakKeyDictionary[Figure, bytes] = weakref.WeakKeyDictionary()

PlotFunction = Callable[[ParityReport], Figure]
_Options = ParamSpec("_Options")


def kept(
    make: Callable[Concatenate[ParityReport, _Options], Figure],
) -> Callable[Concatenate[ParityReport, _Options], Figure]:
    """``make``, answering with the figure :func:`save_figures` wrote for this report, if any.

    Only a call with the report alone can be answered so (save_figures passes no options).
    """

    def plot(report: ParityReport, /, *args: _Options.args, **kwargs: _Options.kwargs) -> Figure:
        saved = None if args or kwargs else _SAVED.get(id(report), {}).get(make.__name__)
        return saved if saved is not None else make(report, *args, **kwargs)

    functools.update_wrapper(plot, make)  # its name and docstring
    return plot


def _keep(report: ParityReport, name: str, fig: Figure) -> None:
    if id(report) not in _SAVED:
        _SAVED[id(report)] = {}
        weakref.finalize(report, _SAVED.pop, id(report), None)
    _SAVED[id(report)][name] = fig


def written_png(fig: Figure) -> bytes | None:
    """The PNG :func:`save_figures` wrote of ``fig`` (None: it wrote none)."""
    return _PNG.get(fig)


def draw(fig: Figure) -> tuple[bytes, bytes]:
    """``fig`` as PNG and as SVG bytes, laid out only once."""
    fig.set_dpi(DPI)
    canvas: Any = FigureCanvasAgg(fig)  # the backends have no type hints
    canvas.draw()  # the constrained layout, then the pixels
    image = io.BytesIO()
    imsave(image, canvas.buffer_rgba(), format="png", origin="upper", dpi=DPI)
    # Keep the positions just computed; savefig would lay the figure out again (one more draw).
    fig.set_layout_engine("none")
    vector = io.BytesIO()
    svg: Any = FigureCanvasSVG(fig)
    svg.print_svg(vector)
    return image.getvalue(), vector.getvalue()


def _write(fig: Figure, paths: Sequence[Path], drawn: tuple[bytes, bytes]) -> None:
    """The PNG then the SVG, each atomically."""
    _PNG[fig] = drawn[0]
    for path, data in zip(paths, drawn, strict=True):
        atomic_write_bytes(path, data, durable=False)


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _child(makers: Mapping[str, PlotFunction], report: ParityReport, channel: Connection) -> None:
    """In the forked child: build and draw ``makers``' figures, send their bytes, exit."""
    quiet = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 (the child's until it exits)
    sys.stdout = sys.stderr = quiet  # the parent's streams may be a kernel's sockets
    channel.send({name: draw(make(report)) for name, make in makers.items()})
    channel.close()


def _fork(
    makers: Mapping[str, PlotFunction], report: ParityReport
) -> tuple[Any, Connection] | None:
    """A started child drawing ``makers``' figures and the end to read them from; None: none."""
    if not makers or _cores() < 2 or "fork" not in multiprocessing.get_all_start_methods():
        return None
    receive, send = multiprocessing.get_context("fork").Pipe(duplex=False)
    child = multiprocessing.get_context("fork").Process(
        target=_child, args=(makers, report, send), name="runbook-plots", daemon=True
    )
    try:
        child.start()
    except OSError:  # no process to spare: draw everything here
        receive.close()
        return None
    finally:
        send.close()  # the child's end: once it exits, reading here ends too
    return child, receive


def _collect(started: tuple[Any, Connection] | None) -> dict[str, tuple[bytes, bytes]]:
    """What the child drew (nothing if it failed, died or hung: then it is stopped)."""
    if started is None:
        return {}
    child, receive = started
    found: dict[str, tuple[bytes, bytes]] = {}
    try:
        if receive.poll(CHILD_TIMEOUT_S):
            found = dict(receive.recv())
    except (EOFError, OSError):  # it died before sending
        found = {}
    finally:
        receive.close()
        child.join(timeout=5)
        if child.is_alive():
            child.kill()
            child.join()
        child.close()
    return found


def save_figures(
    report: ParityReport,
    directory: Path,
    plots: Mapping[str, PlotFunction],
    *,
    skip: frozenset[str] = frozenset(),
    child_share: frozenset[str] = CHILD_SHARE,
) -> dict[str, list[Path]]:
    """Write every plot of ``plots`` (but those in ``skip``) as PNG and SVG into ``directory``.

    The plots named in ``child_share`` are drawn by a forked child when this
    machine has two cores or more (empty: every plot is drawn here).

    Returns:
        The files written, per plot name (in ``plots``' order).
    """
    directory.mkdir(parents=True, exist_ok=True)
    names = [name for name in plots if name not in skip]
    theirs = {name: plots[name] for name in names if name in child_share}
    started = _fork(theirs, report)
    figures = {name: plots[name](report) for name in names}
    paths = {name: [directory / f"parity_{name}.{ext}" for ext in ("png", "svg")] for name in names}
    for name in names:
        if started is None or name not in theirs:
            _write(figures[name], paths[name], draw(figures[name]))
    drawn = _collect(started)
    for name in theirs if started is not None else ():
        fig = figures[name]  # drawn by the child: this copy keeps its layout engine
        _write(fig, paths[name], drawn.get(name) or draw(fig))
    for name in names:
        _keep(report, name, figures[name])
    return {name: paths[name] for name in names}
