"""The post-mortem reads well: every time to the minute or second in UTC, durations in words."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from runbook_lib.base.timefmt import duration_text, utc_time
from runbook_lib.comms import postmortem
from runbook_lib.incident.journal import Journal
from runbook_lib.incident.store import (
    advance_incident,
    incident_dir,
    open_incident,
    record_done,
)

# What a reviewer must never read: an ISO text (T separator, fraction of a second or an
# offset) or a bare epoch number.
ISO = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")
FRACTION = re.compile(r"\d{2}:\d{2}:\d{2}\.\d+")
OFFSET = re.compile(r"[+-]\d{2}:\d{2}\b")
EPOCH = re.compile(r"(?<![\w.])1\d{9}(\.\d+)?(?![\w.])")


def _incident(archive: Path) -> str:
    start = datetime(2026, 12, 3, 7, 15, 4, 123456, tzinfo=UTC)
    inc = open_incident(archive, "unified env 40% slower", "critical", "perf-regression", now=start)
    advance_incident(archive, inc.id, "assessed", start + timedelta(seconds=95.5), "code-rollback")
    record_done(archive, inc.id, "tracking-issue", start + timedelta(minutes=7, microseconds=9))
    Journal.for_incident(incident_dir(archive, inc.id)).append(
        {
            "at": (start + timedelta(minutes=3, microseconds=612000)).isoformat(),
            "event": "begin",
            "operation": "apply",
            "plan": "a6c40ebff2b3" * 5,
        }
    )
    advance_incident(archive, inc.id, "rolled-back", start + timedelta(minutes=4, seconds=12.7))
    return inc.id


def _facts(markdown: str) -> str:
    """The document up to the templates to fill in (the evidence list names files)."""
    return markdown.split("## Root cause analysis", 1)[0]


def test_the_postmortem_shows_no_iso_text_and_no_epoch_number(tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    incident_id = _incident(archive)
    path = postmortem.write(archive, incident_id)
    facts = _facts(path.read_text(encoding="utf-8"))
    for pattern in (ISO, FRACTION, OFFSET, EPOCH):
        assert not pattern.search(facts), (pattern.pattern, pattern.search(facts))
    assert "| 2026-12-03 07:15:04 | incident opened | - |" in facts
    assert "| 2026-12-03 07:18:04 | apply begin | a6c40ebff2b3 |" in facts
    # the deadlines to the minute, in UTC; one met shows when
    assert re.search(
        r"\| tracking-issue \| 2026-12-03 08:1\d UTC \| met \| 2026-12-03 07:22 UTC \|", facts
    )
    assert "| assessment | 1 h | 1 min 35 s | yes |" in facts


def test_the_notebooks_rows_are_readable_too(tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    pm = postmortem.build(archive, _incident(archive))
    cells = [
        value
        for rows in (
            postmortem.phase_rows(pm),
            postmortem.deadline_rows(pm),
            postmortem.timeline_rows(pm),
        )
        for row in rows
        for value in row.values()
    ]
    text = "\n".join(cells)
    for pattern in (ISO, FRACTION, OFFSET, EPOCH):
        assert not pattern.search(text), (pattern.pattern, pattern.search(text))
    assert "2026-12-03 07:19:16" in text  # rolled back, to the second


@pytest.mark.parametrize(
    ("value", "seconds", "expected"),
    [
        ("2026-12-03T07:15:04.123456+00:00", False, "2026-12-03 07:15 UTC"),
        ("2026-12-03T09:15:04+02:00", True, "2026-12-03 07:15:04 UTC"),
        ("2026-12-03T07:15:04Z", True, "2026-12-03 07:15:04 UTC"),
        (1796282104.25, True, "2026-12-03 07:15:04 UTC"),
        (datetime(2026, 12, 3, 7, 15), False, "2026-12-03 07:15 UTC"),
        (None, False, "-"),
        ("", False, "-"),
        ("not a time", False, "not a time"),
    ],
)
def test_utc_time(value: object, seconds: bool, expected: str) -> None:
    assert utc_time(value, seconds=seconds) == expected


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (None, "-"),
        (0.04, "0.0 s"),
        (4.2, "4.2 s"),
        (42.4, "42 s"),
        (252, "4 min 12 s"),
        (3600, "1 h"),
        (7500, "2 h 05 min"),
    ],
)
def test_duration_text(seconds: float | None, expected: str) -> None:
    assert duration_text(seconds) == expected


def test_the_report_bundle_shows_no_iso_text_and_no_epoch_number(tmp_path: Path) -> None:
    import html
    import tarfile

    from runbook_lib.comms.bundle import write_report

    archive = tmp_path / "archive"
    incident_id = _incident(archive)
    bundle = write_report(archive, incident_id, tmp_path / "report.tar.gz", [])
    with tarfile.open(bundle) as tar:
        member = tar.extractfile(f"{incident_id}/index.html")
        assert member is not None
        page = member.read().decode()
    shown = page.split("<h2>Files</h2>", 1)[0].split("</style>", 1)[1]
    text = html.unescape(re.sub(r"<[^>]+>", " ", shown))
    for pattern in (ISO, FRACTION, OFFSET, EPOCH):
        assert not pattern.search(text), (pattern.pattern, pattern.search(text))
    assert "2026-12-03 07:18:04" in text  # the journal's apply, to the second
