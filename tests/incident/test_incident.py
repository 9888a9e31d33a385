from __future__ import annotations

import json
import multiprocessing
import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from runbook_lib.base.errors import InvalidInputError, WorkspaceError
from runbook_lib.incident.deadlines import Deadline
from runbook_lib.incident.model import (
    STATES,
    Incident,
    due,
    mark_done,
    new_incident_id,
    open_obligations,
    transition,
    validate_incident_id,
)
from runbook_lib.incident.store import (
    advance_incident,
    incident_dir,
    list_incidents,
    load_incident,
    open_incident,
    record_done,
)

T0 = datetime(2026, 11, 23, 6, 12, 30, tzinfo=UTC)
HOUR = timedelta(hours=1)

# The specification of the state machine, written out independently of the code.
ALLOWED = {
    ("opened", "assessed"),
    ("assessed", "assessed"),
    ("assessed", "rolled-back"),
    ("assessed", "closed"),
    ("rolled-back", "rolled-back"),
    ("rolled-back", "verified"),
    ("rolled-back", "assessed"),
    ("verified", "recovered"),
    ("verified", "closed"),
    ("recovered", "closed"),
}
# A legal way to reach each state from "opened".
ROUTE = {
    "opened": [],
    "assessed": ["assessed"],
    "rolled-back": ["assessed", "rolled-back"],
    "verified": ["assessed", "rolled-back", "verified"],
    "recovered": ["assessed", "rolled-back", "verified", "recovered"],
    "closed": ["assessed", "closed"],
}


def fresh(severity: str = "critical") -> Incident:
    return Incident.from_dict(
        {
            "id": "INC-20261123-0612-3fa2",
            "title": "t",
            "severity": severity,
            "kind": "crash",
            "history": [{"state": "opened", "at": T0.isoformat()}],
        }
    )


def walk(incident: Incident, states: list[str], start: datetime = T0) -> Incident:
    for offset, state in enumerate(states, start=1):
        incident = transition(incident, state, start + offset * timedelta(minutes=1))
    return incident


def status(deadlines: list[Deadline]) -> list[tuple[str, str, datetime]]:
    return [(d.obligation, d.status, d.due_at) for d in deadlines]


# --- IDs --------------------------------------------------------------------------------


def test_new_id_is_utc_minute_plus_random_hex() -> None:
    local = T0.astimezone(timezone(timedelta(hours=2)))
    incident_id = new_incident_id(local, "3fa2")
    assert incident_id == "INC-20261123-0612-3fa2"
    random_ids = {new_incident_id(T0) for _ in range(20)}
    assert all(validate_incident_id(i) == i for i in random_ids) and len(random_ids) > 1


@pytest.mark.parametrize(
    "bad",
    [
        "../x",
        "INC-../..",
        "INC-20261123-0612-3fa2/../../etc",
        "/etc/passwd",
        "/tmp/INC-20261123-0612-3fa2",
        "INC-20261123-0612-3fa2/",
        "INC-20261123-0612-3fa2\n",
        "INC-20261123-0612-3FA2",
        "INC-20261332-0612-3fa2",
        "INC-20261123-2512-3fa2",
        "inc-20261123-0612-3fa2",
        "INC-20261123-0612-3fa",
        "..",
        "",
    ],
)
def test_bad_ids_are_refused_before_anything_is_touched(tmp_path: Path, bad: str) -> None:
    archive = tmp_path / "archive"
    with pytest.raises(InvalidInputError, match="is not an incident ID"):
        validate_incident_id(bad)
    with pytest.raises(InvalidInputError, match="is not an incident ID"):
        load_incident(archive, bad)
    with pytest.raises(InvalidInputError, match="is not an incident ID"):
        advance_incident(archive, bad, "assessed")
    with pytest.raises(InvalidInputError, match="is not an incident ID"):
        record_done(archive, bad, "tracking-issue")
    assert list(tmp_path.iterdir()) == []


# --- opening and storage ----------------------------------------------------------------


def test_open_incident_writes_its_record(tmp_path: Path) -> None:
    incident = open_incident(tmp_path, "  unified env crashes on reset ", "critical", "crash", T0)
    assert incident.id.startswith("INC-20261123-0612-")
    directory = incident_dir(tmp_path, incident.id)
    data = json.loads((directory / "incident.json").read_text())
    assert data["title"] == "unified env crashes on reset"
    assert data["state"] == "opened" and data["history"][0]["at"] == "2026-11-23T06:12:30+00:00"
    assert not [p for p in directory.iterdir() if p.name.endswith(".tmp")]
    assert load_incident(tmp_path, incident.id) == incident


def test_ids_of_one_minute_are_distinct(tmp_path: Path) -> None:
    ids = {open_incident(tmp_path, f"t{i}", "low", "other", T0).id for i in range(30)}
    assert len(ids) == 30
    assert [i.id for i in list_incidents(tmp_path)] == sorted(ids)


@pytest.mark.parametrize(
    ("title", "severity", "kind", "message"),
    [
        ("", "high", "crash", "title must be one non-empty line"),
        ("a\nb", "high", "crash", "title must be one non-empty line"),
        ("x" * 201, "high", "crash", "at most 200"),
        ("t", "urgent", "crash", "unknown severity 'urgent'.*critical, high, medium, low"),
        ("t", "high", "meltdown", "unknown incident kind 'meltdown'.*data-corruption"),
    ],
)
def test_bad_open_writes_nothing(
    tmp_path: Path, title: str, severity: str, kind: str, message: str
) -> None:
    with pytest.raises(InvalidInputError, match=message):
        open_incident(tmp_path / "archive", title, severity, kind, T0)
    assert not (tmp_path / "archive").exists()


def test_archive_that_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "archive").write_text("not a directory")
    with pytest.raises(InvalidInputError, match="cannot keep incidents in archive"):
        open_incident(tmp_path / "archive", "t", "low", "other", T0)


def test_naive_time_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="no time zone"):
        open_incident(tmp_path, "t", "low", "other", datetime(2026, 1, 1))


def test_unknown_incident_and_damaged_record(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="no incident INC-20261123-0612-3fa2"):
        load_incident(tmp_path, "INC-20261123-0612-3fa2")
    incident = open_incident(tmp_path, "t", "low", "other", T0)
    (incident_dir(tmp_path, incident.id) / "incident.json").write_text("{not json")
    with pytest.raises(WorkspaceError, match="not a readable incident record"):
        load_incident(tmp_path, incident.id)


def test_list_skips_foreign_directories(tmp_path: Path) -> None:
    incident = open_incident(tmp_path, "t", "low", "other", T0)
    (tmp_path / "incidents" / "notes").mkdir()
    (tmp_path / "incidents" / "INC-20261123-0612-0000").mkdir()  # no record yet
    assert [i.id for i in list_incidents(tmp_path)] == [incident.id]
    assert list_incidents(tmp_path / "nothing-here") == []


def test_advance_and_record_persist(tmp_path: Path) -> None:
    incident = open_incident(tmp_path, "t", "critical", "crash", T0)
    advance_incident(tmp_path, incident.id, "assessed", T0 + HOUR / 4, note="decided")
    record_done(tmp_path, incident.id, "tracking-issue", T0 + HOUR / 2, note="#12")
    stored = load_incident(tmp_path, incident.id)
    assert stored.state == "assessed" and stored.history[-1].note == "decided"
    assert [(c.obligation, c.note) for c in stored.completions] == [("tracking-issue", "#12")]


def test_refused_update_changes_nothing(tmp_path: Path) -> None:
    incident = open_incident(tmp_path, "t", "low", "other", T0)
    path = incident_dir(tmp_path, incident.id) / "incident.json"
    before = path.read_bytes()
    with pytest.raises(InvalidInputError, match="cannot go from opened to verified"):
        advance_incident(tmp_path, incident.id, "verified", T0 + HOUR)
    assert path.read_bytes() == before


# --- transitions ------------------------------------------------------------------------


@pytest.mark.parametrize("source", STATES)
@pytest.mark.parametrize("target", STATES)
def test_transition_table(source: str, target: str) -> None:
    incident = walk(fresh(), ROUTE[source])
    assert incident.state == source
    later = T0 + HOUR
    if (source, target) in ALLOWED:
        moved = transition(incident, target, later)
        assert moved.state == target and moved.history[-1].at == later
        assert moved.history[:-1] == incident.history
    else:
        with pytest.raises(InvalidInputError, match=f"cannot go from {source} to {target}") as info:
            transition(incident, target, later)
        allowed = sorted(t for s, t in ALLOWED if s == source)
        hint = info.value.hint or ""
        assert sorted(hint.split(": ", 1)[1].split(", ")) == allowed or (
            not allowed and "closed" in hint
        )


def test_unknown_state_and_time_going_backwards() -> None:
    with pytest.raises(InvalidInputError, match="unknown incident state 'fixed'"):
        transition(fresh(), "fixed", T0)
    with pytest.raises(InvalidInputError, match="before the last change"):
        transition(fresh(), "assessed", T0 - HOUR)


def test_repeated_rollback_keeps_the_first_start() -> None:
    incident = walk(fresh("low"), ["assessed", "rolled-back"])
    first = incident.history[-1].at
    again = transition(incident, "rolled-back", T0 + 2 * HOUR)
    assert again.timeline().rollback_started == first


# --- deadlines --------------------------------------------------------------------------


def test_critical_deadlines_with_fixed_clock() -> None:
    incident = fresh("critical")
    assert status(due(incident, T0 + HOUR / 2)) == [
        ("tracking-issue", "due", T0 + HOUR),
        ("root-cause-analysis", "due", T0 + 24 * HOUR),
    ]
    # Exactly at the deadline is still in time; a second later it is overdue.
    assert due(incident, T0 + HOUR)[0].status == "due"
    assert due(incident, T0 + HOUR + timedelta(seconds=1))[0].status == "overdue"
    met = mark_done(incident, "tracking-issue", T0 + HOUR / 2)
    tracking = due(met, T0 + 30 * HOUR)[0]
    assert (tracking.status, tracking.met_at, tracking.late) == ("met", T0 + HOUR / 2, False)
    assert due(met, T0 + 30 * HOUR)[1].status == "overdue"
    late = mark_done(incident, "tracking-issue", T0 + 2 * HOUR)
    assert due(late, T0 + 2 * HOUR)[0].late is True


def test_non_critical_incident_has_no_issue_deadlines() -> None:
    assert due(fresh("high"), T0 + 48 * HOUR) == []
    assert open_obligations(fresh("high")) == []


def test_stakeholder_updates_every_four_hours_during_rollback() -> None:
    incident = walk(fresh("medium"), ["assessed", "rolled-back"])
    start = incident.timeline().rollback_started
    assert start is not None
    assert status(due(incident, start + 3 * HOUR)) == [
        ("stakeholder-update", "due", start + 4 * HOUR)
    ]
    assert due(incident, start + 5 * HOUR)[0].status == "overdue"
    updated = mark_done(incident, "stakeholder-update", start + 4.5 * HOUR)
    deadlines = due(updated, start + 5 * HOUR)
    assert [(d.status, d.late) for d in deadlines] == [("met", True), ("due", False)]
    assert deadlines[1].due_at == start + 8.5 * HOUR
    # Verified after 6 h: the update due at 8.5 h is no longer owed; the report is.
    verified = transition(updated, "verified", start + 6 * HOUR)
    assert status(due(verified, start + 7 * HOUR)) == [
        ("stakeholder-update", "met", start + 4 * HOUR),
        ("management-report", "due", start + 30 * HOUR),
    ]
    reported = mark_done(verified, "management-report", start + 20 * HOUR)
    assert [d.status for d in due(reported, start + 40 * HOUR)] == ["met", "met"]


def test_missed_update_stays_overdue_after_the_rollback() -> None:
    incident = walk(fresh("low"), ["assessed", "rolled-back"])
    start = incident.timeline().rollback_started
    assert start is not None
    verified = transition(incident, "verified", start + 9 * HOUR)
    assert status(due(verified, start + 10 * HOUR)) == [
        ("stakeholder-update", "overdue", start + 4 * HOUR),
        ("management-report", "due", start + 33 * HOUR),
    ]


def test_recovery_without_a_report_is_overdue_a_day_after_completion() -> None:
    done = walk(fresh("low"), ["assessed", "rolled-back", "verified", "recovered", "closed"])
    completed = done.timeline().rollback_completed
    assert completed == done.reached("verified")
    assert completed is not None
    report = [d for d in due(done, completed + 25 * HOUR) if d.obligation == "management-report"]
    assert report[0].status == "overdue"


@pytest.mark.parametrize(
    ("severity", "states", "obligation", "message"),
    [
        ("low", ["assessed"], "stakeholder-update", "open obligations now: none"),
        (
            "low",
            ["assessed", "rolled-back"],
            "management-report",
            "open obligations now: stakeholder-update",
        ),
        ("high", [], "tracking-issue", "not open for incident"),
        (
            "low",
            ["assessed", "rolled-back", "verified"],
            "stakeholder-update",
            "open obligations now: management-report",
        ),
        ("low", [], "coffee", "unknown obligation 'coffee'"),
    ],
)
def test_obligations_that_do_not_apply_are_refused(
    severity: str, states: list[str], obligation: str, message: str
) -> None:
    with pytest.raises(InvalidInputError, match=message):
        mark_done(walk(fresh(severity), states), obligation, T0 + HOUR)


def test_one_off_obligation_cannot_be_met_twice() -> None:
    once = mark_done(fresh(), "tracking-issue", T0 + HOUR / 2)
    with pytest.raises(InvalidInputError, match="tracking-issue is not open"):
        mark_done(once, "tracking-issue", T0 + HOUR)


def test_deadlines_serialize() -> None:
    data = [d.to_dict() for d in due(fresh(), T0)]
    assert json.loads(json.dumps(data))[0]["due_at"] == "2026-11-23T07:12:30+00:00"


# --- concurrency ------------------------------------------------------------------------


def _record_updates(archive: str, incident_id: str, count: int, go: str) -> None:
    while not Path(go).exists():  # start together, so that the updates really collide
        time.sleep(0.005)
    for _ in range(count):
        record_done(Path(archive), incident_id, "stakeholder-update")


def test_concurrent_updates_are_not_lost(tmp_path: Path) -> None:
    incident = open_incident(tmp_path, "t", "low", "other")
    advance_incident(tmp_path, incident.id, "assessed")
    advance_incident(tmp_path, incident.id, "rolled-back")
    go = tmp_path / "go"
    context = multiprocessing.get_context("spawn")
    args = (str(tmp_path), incident.id, 20, str(go))
    workers = [context.Process(target=_record_updates, args=args) for _ in range(3)]
    for worker in workers:
        worker.start()
    time.sleep(0.3)
    go.touch()
    _record_updates(*args)
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0
    stored = load_incident(tmp_path, incident.id)
    assert len(stored.completions) == 80
