from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from runbook_lib.base.errors import WorkspaceError
from runbook_lib.base.fsutil import sha256_bytes
from runbook_lib.incident.journal import (
    JOURNAL_FILE,
    Journal,
    file_hashes,
    last_open_intent,
    open_intents,
    read_journal,
)


def test_append_writes_one_fsynced_line_per_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[bytes] = []
    real_fsync = os.fsync

    def spying_fsync(fd: int) -> None:
        # What is on disk at the moment of the fsync, seen through the path.
        path = tmp_path / "inc" / JOURNAL_FILE
        synced.append(path.read_bytes() if path.exists() else b"")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", spying_fsync)
    journal = Journal.for_incident(tmp_path / "inc")
    first = journal.append({"event": "begin", "plan": "abc"})
    journal({"event": "end", "plan": "abc", "ok": True})
    lines = (tmp_path / "inc" / JOURNAL_FILE).read_bytes().splitlines(keepends=True)
    assert len(lines) == 2 and all(line.endswith(b"\n") for line in lines)
    assert json.loads(lines[0]) == first and "at" in first
    # Each append was fsynced once its full line (newline included) was written.
    assert lines[0] in synced and b"".join(lines) in synced
    contents = read_journal(tmp_path / "inc" / JOURNAL_FILE)
    assert [r["event"] for r in contents.records] == ["begin", "end"] and contents.torn is None


def test_missing_journal_is_empty(tmp_path: Path) -> None:
    contents = read_journal(tmp_path / JOURNAL_FILE)
    assert contents.records == () and contents.torn is None


def test_intent_and_outcome_carry_file_hashes(tmp_path: Path) -> None:
    root = tmp_path / "target"
    root.mkdir()
    (root / "config.ini").write_text("[rl]\nuse_unified_env = true\n")
    journal = Journal(tmp_path / JOURNAL_FILE)
    before = file_hashes(root, ["config.ini", "gone.txt"])
    assert before == {
        "config.ini": sha256_bytes(b"[rl]\nuse_unified_env = true\n"),
        "gone.txt": None,
    }
    journal.intent(0, "config-flag", hashes_before=before, operation="apply", plan="p1")
    (root / "config.ini").write_text("[rl]\nuse_unified_env = false\n")
    journal.outcome(
        0, "done", hashes_after=file_hashes(root, ["config.ini"]), operation="apply", plan="p1"
    )
    intent, outcome = journal.read().records
    assert intent["hashes_before"]["config.ini"] != outcome["hashes_after"]["config.ini"]
    assert (intent["event"], outcome["event"], outcome["status"]) == ("intent", "outcome", "done")


def test_torn_last_line_is_reported_then_dropped_on_next_append(tmp_path: Path) -> None:
    path = tmp_path / JOURNAL_FILE
    journal = Journal(path)
    journal.append({"event": "begin", "plan": "p"})
    journal.append({"event": "intent", "plan": "p", "step": 0})
    with path.open("ab") as handle:
        handle.write(b'{"event": "outcome", "plan": "p", "st')
    contents = read_journal(path)
    assert [r["event"] for r in contents.records] == ["begin", "intent"]
    assert contents.torn is not None
    assert contents.torn.line == 3 and contents.torn.fragment.startswith('{"event": "outcome"')
    assert contents.to_dict()["torn"]["line"] == 3

    journal.append({"event": "resume", "plan": "p"})
    repaired = read_journal(path)
    assert repaired.torn is None
    assert [r["event"] for r in repaired.records] == [
        "begin",
        "intent",
        "torn-line-dropped",
        "resume",
    ]
    assert repaired.records[2]["fragment"].startswith('{"event": "outcome"')


def test_damage_in_the_middle_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / JOURNAL_FILE
    path.write_bytes(b'{"event": "begin"}\nnot json\n{"event": "end"}\n')
    with pytest.raises(WorkspaceError, match="line 2 is not JSON"):
        read_journal(path)
    path.write_bytes(b'{"event": "begin"}\n[1, 2]\n')
    with pytest.raises(WorkspaceError, match="line 2 is not a JSON object"):
        read_journal(path)


def test_unserializable_record_writes_nothing(tmp_path: Path) -> None:
    journal = Journal(tmp_path / JOURNAL_FILE)
    with pytest.raises(TypeError):
        journal.append({"event": "x", "value": object()})
    assert read_journal(tmp_path / JOURNAL_FILE).records == ()


def test_killed_writer_leaves_a_readable_journal(tmp_path: Path) -> None:
    # A child appends records and is SIGKILLed in the middle of writing a line.
    path = tmp_path / JOURNAL_FILE
    script = textwrap.dedent(f"""
        import os, signal
        from pathlib import Path
        from runbook_lib.incident.journal import Journal
        journal = Journal(Path({str(path)!r}))
        for step in range(3):
            journal.intent(step, "a", operation="apply", plan="p")
            journal.outcome(step, "done", operation="apply", plan="p")
        journal.intent(3, "a", operation="apply", plan="p")
        fd = os.open({str(path)!r}, os.O_WRONLY | os.O_APPEND)
        os.write(fd, b'{{"event": "outcome", "step": 3, "sta')
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    proc = subprocess.run([sys.executable, "-c", script], check=False, timeout=60)
    assert proc.returncode == -signal.SIGKILL
    contents = read_journal(path)
    assert len(contents.records) == 7 and contents.torn is not None
    pending = last_open_intent(contents.records)
    assert pending is not None and pending["step"] == 3


def _records(*events: tuple[str, int, str]) -> list[dict[str, Any]]:
    return [{"event": e, "step": s, "operation": op, "plan": "p"} for e, s, op in events]


def test_open_intents_find_steps_without_outcome() -> None:
    records = _records(("intent", 0, "apply"), ("outcome", 0, "apply"), ("intent", 1, "apply"))
    assert last_open_intent(records) == records[2]
    assert last_open_intent(_records(("intent", 0, "apply"), ("outcome", 0, "apply"))) is None
    assert last_open_intent([]) is None
    # An undo of step 1 is a different step from its apply.
    mixed = _records(("intent", 1, "apply"), ("intent", 1, "undo"), ("outcome", 1, "undo"))
    assert open_intents(mixed) == [mixed[0]]
    # A retried step counts at its latest intent.
    retried = _records(("intent", 0, "apply"), ("intent", 1, "apply"), ("intent", 0, "apply"))
    assert last_open_intent(retried) is retried[2]


def test_typed_event_kinds_are_written_as_the_plain_strings_old_journals_hold(
    tmp_path: Path,
) -> None:
    from runbook_lib.incident.journal import JournalEvent

    journal = Journal(tmp_path / "journal.jsonl")
    journal.intent(1, "copy")
    journal.append({"event": JournalEvent.END, "operation": "apply", "plan": "p"})
    lines = (tmp_path / "journal.jsonl").read_text(encoding="utf-8").splitlines()
    assert '"event": "intent"' in lines[0] and '"event": "end"' in lines[1]
    records = journal.read().records
    assert [JournalEvent(r["event"]) for r in records] == [JournalEvent.INTENT, JournalEvent.END]
