"""``runbook archive verify`` on an incident whose inclusion proof is gone says what to do."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from runbook_lib.base.fsutil import sha256_bytes
from runbook_lib.evidence import index
from runbook_lib.evidence.layout import INCLUSION, MANIFEST
from runbook_lib.evidence.seal import seal
from tests.runutil import cli

INCIDENT = "INC-20261203-0730-9b1d"


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("RUNBOOK_SIGNING_KEY", raising=False)
    store = tmp_path / "outputs"
    incident = store / "incidents" / INCIDENT
    incident.mkdir(parents=True)
    (incident / "incident.json").write_text(json.dumps({"id": INCIDENT}))
    seal(store, incident, facts={"versions": {}})
    return store


def _verify(store: Path) -> tuple[int, list[str]]:
    done = cli("archive", "verify", INCIDENT, "--archive", str(store))
    return done.returncode, done.stdout.splitlines()[1:]


def test_a_lost_proof_names_the_command_that_makes_it_again(store: Path) -> None:
    (store / "incidents" / INCIDENT / INCLUSION).unlink()
    code, problems = _verify(store)
    assert code == 1
    assert problems == [
        f"  {INCIDENT}: missing: {INCLUSION} (the incident's inclusion proof; its seal is "
        f"still in the log); run 'runbook archive seal {INCIDENT}' to re-seal it"
    ]
    sealed = cli("archive", "seal", INCIDENT, "--archive", str(store))
    assert sealed.returncode == 0, sealed.stderr
    assert (store / "incidents" / INCIDENT / INCLUSION).is_file()
    assert _verify(store) == (0, [])


def test_an_earlier_seal_put_back_without_its_proof_is_named_and_not_resealed_away(
    store: Path,
) -> None:
    incident = store / "incidents" / INCIDENT
    earlier = (incident / MANIFEST).read_bytes()
    (incident / "notes.txt").write_text("more evidence")
    seal(store, incident, facts={"versions": {}})
    # Roll the incident back to its earlier seal, anchors recomputed, and drop the proof.
    (incident / "notes.txt").unlink()
    (incident / MANIFEST).write_bytes(earlier)
    with sqlite3.connect(index.index_path(store)) as conn:
        conn.execute(
            "UPDATE seals SET manifest_sha256 = ? WHERE incident = ?",
            (sha256_bytes(earlier), INCIDENT),
        )
    (incident / INCLUSION).unlink()
    code, problems = _verify(store)
    assert code == 1
    named = f"missing: {INCLUSION}, and {MANIFEST} is not the last logged seal of {INCIDENT}"
    assert len(problems) == 1 and problems[0].startswith(f"  {INCIDENT}: {named}")
    assert cli("archive", "seal", INCIDENT, "--archive", str(store)).returncode == 0
    code, problems = _verify(store)
    assert code == 1 and problems[0].startswith(f"  {INCIDENT}: earlier: {named}")
