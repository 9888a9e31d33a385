"""Progress of long steps: a ticking timer on a terminal, plain lines elsewhere."""

from __future__ import annotations

import io
import time

import pytest

from runbook_lib.base.progress import StepProgress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_plain_lines_when_not_a_terminal() -> None:
    out = io.StringIO()
    steps = StepProgress.for_stream(out)
    with steps.step("run 01_assessment") as step:
        step.outcome = "ok"
    steps("a message")
    lines = out.getvalue().splitlines()
    assert lines[0] == "run 01_assessment ..."
    assert lines[1].startswith("run 01_assessment: ok (") and lines[1].endswith(" s)")
    assert lines[2] == "a message"
    assert "\r" not in out.getvalue()


def test_live_timer_on_a_terminal_then_one_outcome_line() -> None:
    out = Terminal()
    steps = StepProgress.for_stream(out)
    with steps.step("run 03_parity") as step:
        time.sleep(1.2)  # two redraws of the timer
        step.outcome = "ok"
    text = out.getvalue()
    assert "run 03_parity: 00:0" in text and "\r" in text  # tqdm's elapsed time, redrawn
    assert text.rstrip().splitlines()[-1].split("\r")[-1].startswith("run 03_parity: ok (")
    assert "run 03_parity ..." not in text


def test_a_step_that_raises_ends_failed() -> None:
    out = io.StringIO()
    with pytest.raises(RuntimeError), StepProgress.for_stream(out).step("push"):
        raise RuntimeError("boom")
    assert "push: failed (" in out.getvalue()


def test_a_step_refused_for_bad_input_adds_no_line() -> None:
    from runbook_lib.base.errors import InvalidInputError

    out = Terminal()
    with pytest.raises(InvalidInputError), StepProgress.for_stream(out).step("verify"):
        raise InvalidInputError("unknown check(s): modles")
    assert "verify: " not in out.getvalue().split("\r")[-1]


def test_a_command_shows_progress_on_a_terminal_only(monkeypatch: pytest.MonkeyPatch) -> None:
    plain = io.StringIO()
    monkeypatch.setattr("sys.stderr", plain)
    with StepProgress.for_command(as_json=False).step("push"):
        pass
    with StepProgress.for_command(as_json=True).step("push"):
        pass
    assert plain.getvalue() == ""
    term = Terminal()
    monkeypatch.setattr("sys.stderr", term)
    with StepProgress.for_command(as_json=True).step("push"):
        pass
    assert term.getvalue() == ""
    with StepProgress.for_command(as_json=False).step("push"):
        pass
    assert "push: done (" in term.getvalue()
