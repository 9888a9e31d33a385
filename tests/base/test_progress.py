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


def test_a_command_off_a_terminal_prints_its_items_and_outcome_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    plain = io.StringIO()
    monkeypatch.setattr("sys.stderr", plain)
    progress = StepProgress.for_command(as_json=False)
    with progress.step("verify: running the checks"):
        progress.item_done("models.sha256", "pass (0.1 s)", total=2)
    lines = plain.getvalue().splitlines()
    assert lines[0] == "verify 1/2: models.sha256: pass (0.1 s)"
    assert lines[1].startswith("verify: running the checks: done (")
    assert len(lines) == 2  # no "... started" line
    json_only = io.StringIO()
    monkeypatch.setattr("sys.stderr", json_only)
    progress = StepProgress.for_command(as_json=True)
    with progress.step("push"):
        progress.item_done("part", "sent", total=1)
    assert json_only.getvalue() == ""
    term = Terminal()
    monkeypatch.setattr("sys.stderr", term)
    with StepProgress.for_command(as_json=True).step("push"):
        pass
    assert term.getvalue() == ""
    with StepProgress.for_command(as_json=False).step("push"):
        pass
    assert "push: done (" in term.getvalue()


def test_a_command_refused_for_bad_input_adds_no_line_off_a_terminal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from runbook_lib.base.errors import InvalidInputError

    plain = io.StringIO()
    monkeypatch.setattr("sys.stderr", plain)
    with pytest.raises(InvalidInputError), StepProgress.for_command(as_json=False).step("verify"):
        raise InvalidInputError("unknown check(s): modles")
    assert plain.getvalue() == ""


def test_items_off_a_terminal_are_one_plain_line_each() -> None:
    out = io.StringIO()
    steps = StepProgress.for_stream(out)
    with steps.step("parity: running the paired episodes") as step:
        steps.item_done("episode 0 seed 12", "1000 steps, reward 41.00", total=2)
        steps.item_done("episode 1 seed 13", "1000 steps, reward 40.00", total=2)
        step.outcome = "ok"
    lines = out.getvalue().splitlines()
    assert lines[1:3] == [
        "parity 1/2: episode 0 seed 12: 1000 steps, reward 41.00",
        "parity 2/2: episode 1 seed 13: 1000 steps, reward 40.00",
    ]
    assert lines[3].startswith("parity: running the paired episodes: ok (")
    assert "\r" not in out.getvalue()


def test_items_without_a_total_or_a_step_are_counted() -> None:
    out = io.StringIO()
    steps = StepProgress.for_stream(out)
    with steps.step("sandbox (trains the models on a first run)", topic="sandbox"):
        steps.item_done("models/sac_v1.zip", "trained in 12.0 s")
    steps.item_done("loose", "done")
    lines = out.getvalue().splitlines()
    assert lines[1] == "sandbox 1: models/sac_v1.zip: trained in 12.0 s"
    assert lines[-1] == "1: loose: done"


def test_items_on_a_terminal_count_on_the_bar_and_leave_no_line() -> None:
    out = Terminal()
    steps = StepProgress.for_stream(out)
    with steps.step("verify: running the checks") as step:
        for name in ("models.sha256", "env.factory", "tests.rollback"):
            steps.item_done(name, "pass", total=3)
        step.outcome = "ok"
    text = out.getvalue()
    assert "verify: running the checks: 2/3 [" in text
    assert "3/3 [" in text and "tests.rollback: pass" in text
    assert text.rstrip().splitlines()[-1].split("\r")[-1].startswith("verify: running")
    assert "verify 1/3:" not in text  # no plain line per item on a terminal


def test_items_from_several_threads_are_all_counted() -> None:
    from concurrent.futures import ThreadPoolExecutor

    out = io.StringIO()
    steps = StepProgress.for_stream(out)
    with steps.step("verify: running the checks"), ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda i: steps.item_done(f"check {i}", "pass", total=20), range(20)))
    counts = sorted(line.split(":")[0] for line in out.getvalue().splitlines()[1:-1])
    assert counts == sorted(f"verify {n}/20" for n in range(1, 21))


def test_the_silent_progress_says_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    from runbook_lib.base.progress import NO_PROGRESS

    NO_PROGRESS.item_done("episode 0 seed 0", "1000 steps", total=1)
    assert capsys.readouterr() == ("", "")


def test_importing_progress_loads_neither_tqdm_nor_multiprocessing() -> None:
    import subprocess
    import sys

    code = (
        "import sys, runbook_lib.base.progress; "
        "print(sorted(m for m in ('tqdm', 'multiprocessing') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "[]"
