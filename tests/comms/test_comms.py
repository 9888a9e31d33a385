"""Messages from the seeds' templates, written to the archive and posted to a local webhook."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from runbook_lib.app.cli import main
from runbook_lib.base.errors import InvalidInputError
from runbook_lib.comms.messages import TEMPLATES
from runbook_lib.comms.notify import notify
from runbook_lib.comms.webhook import post_json
from runbook_lib.decide.tree import Assessment, decide
from runbook_lib.evidence.records import record_decision
from runbook_lib.evidence.seal import verify_incident
from runbook_lib.incident.journal import read_journal
from runbook_lib.incident.ref import IncidentRef
from runbook_lib.incident.store import advance_incident, incident_dir, load_incident, open_incident
from runbook_lib.rollback.operations import apply_rollback, plan_rollback
from runbook_lib.target.manifest import Manifest, load_manifest


class Hook:
    """A webhook on 127.0.0.1 that answers with the queued statuses (then 200) and keeps the posts."""

    def __init__(self) -> None:
        self.statuses: list[int] = []
        self.posts: list[dict[str, Any]] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                hook.posts.append(
                    {
                        "path": self.path,
                        "type": self.headers["Content-Type"],
                        "json": json.loads(body),
                    }
                )
                status = hook.statuses.pop(0) if hook.statuses else 200
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/T0KENPATH"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def hook() -> Iterator[Hook]:
    server = Hook()
    try:
        yield server
    finally:
        server.stop()


def dead_url() -> str:
    with socket.socket() as sock:  # a port that was free a moment ago and has no listener now
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/hook"


def target_with(tmp_path: Path, notify_table: str) -> Manifest:
    root = tmp_path / "target"
    root.mkdir(exist_ok=True)
    (root / "runbook.toml").write_text(
        f'[target]\nname = "svc"\n[git]\nstable_ref = "v1.0"\nrelease_ref = "v2.0"\n{notify_table}'
    )
    return load_manifest(root)


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return tmp_path / "archive"


@pytest.fixture
def rolling_back(store: Path) -> str:
    """A critical incident in the middle of its rollback: a stakeholder update is open."""
    incident = open_incident(store, "unified env crashes on reset", "critical", "crash").id
    advance_incident(store, incident, "assessed")
    advance_incident(store, incident, "rolled-back")
    return incident


def fast(store: Path, incident: str, template: str, manifest: Manifest) -> Any:
    return notify(store, incident, template, manifest=manifest, base_delay_s=0.01, timeout_s=5.0)


def test_a_posted_progress_update_meets_the_stakeholder_obligation(
    tmp_path: Path, store: Path, rolling_back: str, hook: Hook
) -> None:
    manifest = target_with(tmp_path, f'[notify]\nwebhook_url = "{hook.url}"\n')
    report = fast(store, rolling_back, "progress", manifest)
    assert report.posted and report.post is not None and report.post.attempts == 1
    assert report.stakeholder_update_met and report.failure_note is None
    [post] = hook.posts
    assert post["path"] == "/hooks/T0KENPATH" and post["type"] == "application/json"
    assert post["json"]["subject"] == "SAC Agent Rollback Progress Update"
    assert post["json"]["text"] == post["json"]["markdown"] == report.markdown
    assert post["json"]["incident"] == rolling_back
    directory = incident_dir(store, rolling_back)
    assert (directory / "comms" / "01-progress.md").read_text() == report.markdown
    assert [c.obligation for c in load_incident(store, rolling_back).completions] == [
        "stakeholder-update"
    ]
    [event] = [
        r for r in read_journal(directory / "journal.jsonl").records if r.get("event") == "notify"
    ]
    assert (
        event["webhook"] == f"http://127.0.0.1:{hook.server.server_address[1]}/…"
    )  # the path may be secret
    assert "T0KENPATH" not in (directory / "journal.jsonl").read_text()
    assert verify_incident(store, directory).ok  # the message and the obligation are sealed


def test_a_500_is_retried(tmp_path: Path, store: Path, rolling_back: str, hook: Hook) -> None:
    hook.statuses = [500]
    manifest = target_with(tmp_path, f'[notify]\nwebhook_url = "{hook.url}"\n')
    report = fast(store, rolling_back, "issue-report", manifest)
    assert report.posted and report.post is not None
    assert (report.post.attempts, report.post.status) == (2, 200)
    assert len(hook.posts) == 2 and hook.posts[0]["json"] == hook.posts[1]["json"]


def test_a_dead_webhook_is_recorded_and_never_raised(
    tmp_path: Path, store: Path, rolling_back: str
) -> None:
    manifest = target_with(tmp_path, f'[notify]\nwebhook_url = "{dead_url()}"\n')
    report = fast(store, rolling_back, "progress", manifest)
    assert not report.posted and not report.stakeholder_update_met
    assert report.post is not None and report.post.attempts == 3 and report.post.status is None
    directory = incident_dir(store, rolling_back)
    note = json.loads((directory / "comms" / "01-progress.failed.json").read_text())
    assert note["attempts"] == 3 and "refused" in note["error"].lower()
    assert (directory / "comms" / "01-progress.md").is_file()
    events = [r["event"] for r in read_journal(directory / "journal.jsonl").records]
    assert events[-2:] == ["notify", "notify-failed"]
    assert load_incident(store, rolling_back).completions == ()


def test_a_client_error_is_not_retried(hook: Hook) -> None:
    hook.statuses = [400]
    result = post_json(hook.url, {"x": 1}, base_delay_s=0.01)
    assert (result.ok, result.attempts, result.status) == (False, 1, 400)


def test_the_webhook_url_from_an_environment_variable(
    tmp_path: Path, store: Path, rolling_back: str, hook: Hook, monkeypatch: pytest.MonkeyPatch
) -> None:
    manifest = target_with(tmp_path, '[notify]\nwebhook_url_env = "RUNBOOK_TEST_WEBHOOK"\n')
    monkeypatch.delenv("RUNBOOK_TEST_WEBHOOK", raising=False)
    unset = fast(store, rolling_back, "initial", manifest)
    assert not unset.posted and unset.failure_note is not None
    assert (
        "$RUNBOOK_TEST_WEBHOOK (notify.webhook_url_env) is not set"
        in Path(unset.failure_note).read_text()
    )
    monkeypatch.setenv("RUNBOOK_TEST_WEBHOOK", hook.url)
    assert fast(store, rolling_back, "initial", manifest).posted
    assert sorted(p.name for p in (incident_dir(store, rolling_back) / "comms").iterdir()) == [
        "01-initial.failed.json",
        "01-initial.md",
        "02-initial.md",
    ]


def test_bad_requests_change_nothing(store: Path, rolling_back: str) -> None:
    with pytest.raises(InvalidInputError, match="unknown message template 'memo'"):
        notify(store, rolling_back, "memo")
    with pytest.raises(InvalidInputError, match="unknown message field"):
        notify(store, rolling_back, "progress", overrides={"urgency": "high"})
    with pytest.raises(InvalidInputError, match="unknown impact staging"):
        notify(store, rolling_back, "issue-report", overrides={"impact": ["staging"]})
    assert not (incident_dir(store, rolling_back) / "comms").exists()


def test_messages_follow_the_seeds_from_the_incidents_records(
    fresh_sandbox: Path, store: Path
) -> None:
    incident = open_incident(store, "unified env crashes on reset", "critical", "crash").id
    directory = incident_dir(store, incident)
    record_decision(
        store, directory, decide(Assessment(crash_or_data_loss=True)).to_dict(), source="test"
    )
    advance_incident(store, incident, "assessed")
    plan = plan_rollback(IncidentRef(fresh_sandbox, store, incident), "now")
    assert apply_rollback(IncidentRef(fresh_sandbox, store, incident), plan.sha256).ok
    manifest = load_manifest(fresh_sandbox)
    texts = {}
    for name in TEMPLATES:
        report = notify(
            store,
            incident,
            name,
            manifest=manifest,
            overrides={"impact": ["training", "production"], "notes": "flag flips are instant"},
        )
        assert not report.posted and report.not_posted_because == (
            "the manifest configures no webhook ([notify] webhook_url)"
        )
        assert report.failure_note is None
        texts[name] = report.markdown
    issue = texts["issue-report"]
    assert issue.startswith("## RL Environment Issue Report\n")
    for line in (
        "**Severity**: Critical",
        "**Environment**: sandbox v2.0",
        "**Rollback Status**: Applied",
        "- [x] Training affected",
        "- [ ] Evaluation affected",
        "- [x] Production affected",
        "```bash\nexport USE_UNIFIED_ENV=0\n```",
        "1. set USE_UNIFIED_ENV=0 (or RL_ENV_TYPE=legacy) in production and CI",
        "2. open a GitHub issue labelled critical within 1 hour",
        "### ETA for Fix\ninvestigating",
    ):
        assert line in issue, line
    resolution = texts["resolution"]
    assert (
        "**Resolution**: Fixed" in resolution
        and "**Version**: v2.0 with rollback 'now' applied" in resolution
    )
    assert "- select the legacy env by environment variables" in resolution
    assert "- [x] Update environment variable (if previously set)" in resolution
    assert "- [ ] No action required" in resolution and "flag flips are instant" in resolution
    progress = texts["progress"]
    assert progress.startswith("Subject: SAC Agent Rollback Progress Update\n")
    assert "Rollback status: Implementation" in progress
    assert (
        # 'rollback now' is the env-var switch alone (seed 000 §3.1)
        "Completed steps:\n- select the legacy env by environment variables\nRemaining steps:"
        in progress
    )
    assert "Remaining steps:\n- none" in progress and "Current issues:\n- none" in progress
    initial = texts["initial"]
    assert "A critical issue has been identified in the SAC Agent implementation" in initial
    assert "Impact: training affected, production affected" in initial
    completion = texts["completion"]
    assert "has ended, but it is not verified yet" in completion
    assert "Verification results: 1 of 1 checks passed" in completion  # the env-var step's check
    assert "Lessons learned: flag flips are instant" in completion
    assert (
        "Next steps: schedule the root-cause analysis; plan the re-implementation timeline"
        in completion
    )
    assert sorted(p.name for p in (directory / "comms").iterdir()) == [
        "01-issue-report.md",
        "02-resolution.md",
        "03-initial.md",
        "04-progress.md",
        "05-completion.md",
    ]
    assert verify_incident(store, directory).ok


def test_notify_cli_posts(
    tmp_path: Path, store: Path, rolling_back: str, hook: Hook, capsys: pytest.CaptureFixture[str]
) -> None:
    target = target_with(tmp_path, f'[notify]\nwebhook_url = "{hook.url}"\n').root
    code = main(
        [
            "notify",
            "--incident",
            rolling_back,
            "--template",
            "progress",
            "--target",
            str(target),
            "--archive",
            str(store),
            "--json",
        ]
    )
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    assert data["posted"] is True and data["stakeholder_update_met"] is True
    assert (
        main(
            [
                "notify",
                "--incident",
                rolling_back,
                "--template",
                "resolution",
                "--no-post",
                "--resolution",
                "documented",
                "--target",
                str(target),
                "--archive",
                str(store),
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert out.startswith("RL Environment Issue Resolved\n") and "not posted: --no-post" in out
    assert len(hook.posts) == 1
    assert (
        "**Resolution**: Documented as expected behavior"
        in (incident_dir(store, rolling_back) / "comms" / "02-resolution.md").read_text()
    )
    assert (
        main(["notify", "--incident", rolling_back, "--template", "memo", "--archive", str(store)])
        == 2
    )
    assert "Invalid value for '--template'" in capsys.readouterr().err
