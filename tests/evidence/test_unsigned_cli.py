"""An unsigned archive is never reported "ok": every output of verify says it cannot prove."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from runbook_lib.evidence.seal import seal
from tests.runutil import cli

INCIDENT = "INC-20261123-0612-3fa2"


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("RUNBOOK_SIGNING_KEY", raising=False)
    store = tmp_path / "outputs"
    incident = store / "incidents" / INCIDENT
    incident.mkdir(parents=True)
    (incident / "incident.json").write_text(json.dumps({"id": INCIDENT}))
    seal(store, incident, facts={"versions": {}})
    return store


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "RUNBOOK_SIGNING_KEY"}


@pytest.mark.parametrize("selection", [[INCIDENT], []], ids=["one", "all"])
def test_text_line_says_unsigned_cannot_prove_never_ok(store: Path, selection: list[str]) -> None:
    done = cli("archive", "verify", *selection, "--archive", str(store), env=_env())
    assert done.returncode == 0, done.stderr
    line = done.stdout.splitlines()[0]
    assert line.startswith(f"unsigned: cannot prove {INCIDENT}"), line
    assert not any(row.startswith("ok") for row in done.stdout.splitlines())


def test_json_is_not_ok_but_consistent(store: Path) -> None:
    done = cli("archive", "verify", "--archive", str(store), "--json", env=_env())
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["ok"] is False and data["consistent"] is True
    assert data["verdict"] == "unsigned: cannot prove"
    (incident,) = data["incidents"]
    assert incident["ok"] is False and incident["verdict"] == "unsigned: cannot prove"


def test_unsigned_bundle_fails_saying_it_cannot_prove(store: Path, tmp_path: Path) -> None:
    out = tmp_path / "b.tar.gz"
    made = cli(
        "archive", "bundle", INCIDENT, "--out", str(out), "--archive", str(store), env=_env()
    )
    assert made.returncode == 0, made.stderr
    done = cli("archive", "verify-bundle", str(out), env=_env())
    assert done.returncode == 1
    assert "  unsigned: cannot prove data/manifest.json (no signature in data/seal.proof.json)" in (
        done.stdout.splitlines()
    )
