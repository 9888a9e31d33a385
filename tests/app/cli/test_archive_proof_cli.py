"""``runbook archive verify`` on an incident whose seal proof is gone, or in the earlier layout."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from runbook_lib.base.fsutil import sha256_bytes
from runbook_lib.evidence import index
from runbook_lib.evidence.layout import EARLIER_SEAL_FILES, MANIFEST, SEAL_PROOF
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
    (store / "incidents" / INCIDENT / SEAL_PROOF).unlink()
    code, problems = _verify(store)
    assert code == 1
    assert problems == [
        f"  {INCIDENT}: missing: {SEAL_PROOF} (the seal's signature and inclusion proof; "
        f"its seal is still in the log); run 'runbook archive seal {INCIDENT}' to re-seal it"
    ]
    sealed = cli("archive", "seal", INCIDENT, "--archive", str(store))
    assert sealed.returncode == 0, sealed.stderr
    assert (store / "incidents" / INCIDENT / SEAL_PROOF).is_file()
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
    (incident / SEAL_PROOF).unlink()
    code, problems = _verify(store)
    assert code == 1
    named = f"missing: {SEAL_PROOF}, and {MANIFEST} is not the last logged seal of {INCIDENT}"
    assert len(problems) == 1 and problems[0].startswith(f"  {INCIDENT}: {named}")
    assert cli("archive", "seal", INCIDENT, "--archive", str(store)).returncode == 0
    code, problems = _verify(store)
    assert code == 1 and problems[0].startswith(f"  {INCIDENT}: earlier: {named}")


def test_an_incident_sealed_in_the_earlier_layout_is_named_and_a_seal_moves_it_on(
    store: Path,
) -> None:
    incident = store / "incidents" / INCIDENT
    # The earlier layout: the proof in seal.inclusion.json (and a signature in seal.dsse.json).
    (incident / SEAL_PROOF).rename(incident / EARLIER_SEAL_FILES[1])
    (incident / EARLIER_SEAL_FILES[0]).write_text("{}")
    code, problems = _verify(store)
    assert code == 1
    assert problems == [
        f"  {INCIDENT}: layout: the earlier seal layout, its seal still the last logged "
        f"({', '.join(EARLIER_SEAL_FILES)} instead of {SEAL_PROOF}, which this version reads "
        f"neither from); run 'runbook archive seal {INCIDENT}' to re-seal it into {SEAL_PROOF}"
    ]
    sealed = cli("archive", "seal", INCIDENT, "--archive", str(store))
    assert sealed.returncode == 0, sealed.stderr
    assert (incident / SEAL_PROOF).is_file()
    assert not [name for name in EARLIER_SEAL_FILES if (incident / name).exists()]
    assert _verify(store) == (0, [])
