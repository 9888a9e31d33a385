"""Progress of long steps: a live timer on a terminal, plain lines elsewhere.

A step that can take more than a couple of seconds (materializing the
sandbox, a notebook run) is wrapped in :meth:`StepProgress.step`. On a
terminal, tqdm shows the step's name with its elapsed time ticking, then
leaves one line with its outcome; in a log (not a terminal) the step's start
and its outcome are one plain line each. Progress goes to stderr, so a
``--json`` object on stdout never carries any of it; a step refused for bad
input (:class:`InvalidInputError`) adds no line to the error's one line.
A single command's step (:meth:`StepProgress.for_command`) shows only on a
terminal.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TextIO

from runbook_lib.base.errors import InvalidInputError

# How often the live timer redraws; often enough to look alive, rarely enough to cost nothing.
_REFRESH_S = 0.5


@dataclass
class Step:
    """One step in progress; set ``outcome`` (e.g. ``ok``, ``failed``) before it ends."""

    label: str
    outcome: str = "done"


class StepProgress:
    """Reports steps and messages to one stream, live on a terminal."""

    def __init__(
        self, write: Callable[[str], None], *, live: bool = False, stream: TextIO | None = None
    ) -> None:
        """Print lines with ``write``; with ``live``, draw a tqdm timer on ``stream``."""
        self._write = write
        self._live = live
        self._stream = stream or sys.stderr

    @classmethod
    def for_stream(cls, stream: TextIO | None = None) -> StepProgress:
        """Lines on ``stream`` (default stderr), live when it is a terminal."""
        out = stream or sys.stderr

        def write(line: str) -> None:
            out.write(line + "\n")
            out.flush()

        return cls(write, live=out.isatty(), stream=out)

    @classmethod
    def for_command(cls, *, as_json: bool) -> StepProgress:
        """A command's progress: live when stderr is a terminal, else (and under ``--json``) none.

        Off a terminal the command's own output is the record, and its stderr
        stays the one error line a refusal prints.
        """
        if as_json or not sys.stderr.isatty():
            return cls(lambda _line: None)
        return cls.for_stream()

    def __call__(self, message: str) -> None:
        """Print one plain message line."""
        self._write(message)

    @contextlib.contextmanager
    def step(self, label: str) -> Iterator[Step]:
        """Show ``label`` while the block runs, then one line: ``label: outcome (N s)``."""
        step = Step(label)
        began = time.perf_counter()
        timer = self._timer(label) if self._live else contextlib.nullcontext()
        if not self._live:
            self._write(f"{label} ...")
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
            if step.outcome:
                self._write(f"{label}: {step.outcome} ({time.perf_counter() - began:.1f} s)")

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
                bar.refresh()

        ticker = threading.Thread(target=tick, name="runbook-progress", daemon=True)
        ticker.start()
        try:
            yield
        finally:
            done.set()
            ticker.join()
            bar.close()
