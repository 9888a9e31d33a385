"""Progress of long steps: a live timer on a terminal, plain lines elsewhere.

A step that can take more than a couple of seconds (materializing the
sandbox, a notebook run) is wrapped in :meth:`StepProgress.step`. On a
terminal, tqdm shows the step's name with its elapsed time ticking, then
leaves one line with its outcome; in a log (not a terminal) the step's start
and its outcome are one plain line each. A step made of many items (parity
episodes, verify checks, model trainings) reports each one as it finishes
through :meth:`StepProgress.item_done`: on a terminal the bar counts them
(``3/8``), in a log each is one plain line. Progress goes to stderr, so a
``--json`` object on stdout never carries any of it; a step refused for bad
input (:class:`InvalidInputError`) adds no line to the error's one line.
A single command's step (:meth:`StepProgress.for_command`) prints no start
line off a terminal, and nothing at all under ``--json``.

The code that runs the items takes an :class:`ItemProgress` parameter (any
object with ``item_done``), never a global; :data:`NO_PROGRESS` says nothing.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol, TextIO

from runbook_lib.base.errors import InvalidInputError

# How often the live timer redraws; often enough to look alive, rarely enough to cost nothing.
_REFRESH_S = 0.5


class ItemProgress(Protocol):
    """Told as each item of a long step (an episode, a check, a training) finishes."""

    def item_done(self, label: str, outcome: str, *, total: int | None = None) -> None:
        """Item ``label`` finished with ``outcome``; ``total`` is the step's item count if known."""


class _Silent:
    """An :class:`ItemProgress` that says nothing."""

    def item_done(self, label: str, outcome: str, *, total: int | None = None) -> None:
        """Say nothing."""


NO_PROGRESS: ItemProgress = _Silent()


@dataclass
class Step:
    """One step in progress; set ``outcome`` (e.g. ``ok``, ``failed``) before it ends."""

    label: str
    outcome: str = "done"
    topic: str = ""
    items: int = 0
    total: int | None = None


class StepProgress:
    """Reports steps, their items and messages to one stream, live on a terminal."""

    def __init__(
        self,
        write: Callable[[str], None],
        *,
        live: bool = False,
        stream: TextIO | None = None,
        announce: bool = True,
    ) -> None:
        """Print lines with ``write``; with ``live``, draw a tqdm timer on ``stream``.

        Without ``announce`` a step prints no ``label ...`` line when it starts.
        """
        self._write = write
        self._live = live
        self._stream = stream or sys.stderr
        self._announce = announce
        self._lock = threading.Lock()
        self._loose = Step("", topic="")  # counts the items told outside any step
        self._current: Step | None = None
        self._bar: Any = None

    @classmethod
    def for_stream(cls, stream: TextIO | None = None, *, announce: bool = True) -> StepProgress:
        """Lines on ``stream`` (default stderr), live when it is a terminal."""
        out = stream or sys.stderr

        def write(line: str) -> None:
            out.write(line + "\n")
            out.flush()

        return cls(write, live=out.isatty(), stream=out, announce=announce)

    @classmethod
    def for_command(cls, *, as_json: bool) -> StepProgress:
        """A command's progress on stderr: live on a terminal, else its items and outcome.

        Under ``--json`` it says nothing, so stdout's object is the whole
        record; off a terminal a step prints no start line, and a refusal for
        bad input leaves stderr the error's one line.
        """
        if as_json:
            return cls(lambda _line: None)
        return cls.for_stream(announce=False)

    def __call__(self, message: str) -> None:
        """Print one plain message line."""
        with self._lock:
            self._write(message)

    def item_done(self, label: str, outcome: str, *, total: int | None = None) -> None:
        """One item of the current step finished: count it on the bar, or print one line.

        Off a terminal the line reads ``topic N/TOTAL: label: outcome``.
        Safe to call from several threads.
        """
        with self._lock:
            step = self._current or self._loose
            step.items += 1
            step.total = total if total is not None else step.total
            count = f"{step.items}/{step.total}" if step.total else str(step.items)
            if self._bar is not None:
                self._count_on_bar(step, f"{label}: {outcome}")
                return
            topic = f"{step.topic} {count}: " if step.topic else f"{count}: "
            self._write(f"{topic}{label}: {outcome}")

    def _count_on_bar(self, step: Step, last: str) -> None:
        bar = self._bar
        bar.total = step.total
        bar.bar_format = "{desc}: {n_fmt}" + ("/{total_fmt}" if step.total else "")
        bar.bar_format += " [{elapsed}]{postfix}"  # tqdm puts ", " before the postfix
        bar.n = step.items
        bar.set_postfix_str(last, refresh=False)
        bar.refresh()

    @contextlib.contextmanager
    def step(self, label: str, *, topic: str | None = None) -> Iterator[Step]:
        """Show ``label`` while the block runs, then one line: ``label: outcome (N s)``.

        ``topic`` begins each item's line (default: ``label`` up to its first ``": "``).
        """
        step = Step(label, topic=label.partition(": ")[0] if topic is None else topic)
        began = time.perf_counter()
        timer = self._timer(label) if self._live else contextlib.nullcontext()
        if not self._live and self._announce:
            self(f"{label} ...")
        outer, self._current = self._current, step
        try:
            with timer:
                yield step
        except InvalidInputError:
            step.outcome = ""  # refused before it ran: the error's one line says it all
            raise
        except BaseException:
            step.outcome = "failed"
            raise
        finally:
            self._current = outer
            if step.outcome:
                self(f"{label}: {step.outcome} ({time.perf_counter() - began:.1f} s)")

    @contextlib.contextmanager
    def _timer(self, label: str) -> Iterator[None]:
        from tqdm import tqdm

        bar = tqdm(
            total=None,
            desc=label,
            bar_format="{desc}: {elapsed}",
            file=self._stream,
            leave=False,
            dynamic_ncols=True,
        )
        done = threading.Event()

        def tick() -> None:
            while not done.wait(_REFRESH_S):
                with self._lock:
                    bar.refresh()

        ticker = threading.Thread(target=tick, name="runbook-progress", daemon=True)
        outer, self._bar = self._bar, bar
        ticker.start()
        try:
            yield
        finally:
            done.set()
            ticker.join()
            with self._lock:
                self._bar = outer
                bar.close()
