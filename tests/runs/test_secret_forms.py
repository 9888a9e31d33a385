# mypy: disallow-untyped-calls=False
"""A declared secret never stays in the archive in any form, and never enters as a parameter."""

from __future__ import annotations

import base64
import binascii
import html
import json
import urllib.parse
from pathlib import Path

import nbformat
import pytest

from runbook_lib.evidence.amend import amending
from runbook_lib.incident.store import incident_dir, open_incident
from tests.runutil import cli, make_notebook

SECRET = 'tok-<&"Zq81/+x9_Lm>-drill'
FORMS = {
    "raw": SECRET,
    "JSON-escaped": json.dumps(SECRET)[1:-1],
    "HTML-escaped": html.escape(SECRET),
    "base64": base64.b64encode(SECRET.encode()).decode(),
    "base64 (offset 1)": base64.b64encode(b"x" + SECRET.encode()).decode(),
    "base64 (offset 2)": base64.b64encode(b"xy" + SECRET.encode()).decode(),
    "URL-encoded": urllib.parse.quote(SECRET, safe=""),
    "hex": binascii.hexlify(SECRET.encode()).decode(),
    "reversed": SECRET[::-1],
    "12-character prefix": SECRET[:12],
    "8-character middle": SECRET[5:13],
}


@pytest.mark.parametrize("form", sorted(FORMS))
def test_archive_verify_finds_each_form(tmp_path: Path, form: str) -> None:
    store = tmp_path / "archive"
    incident = open_incident(store, "forms", "low", "other").id
    directory = incident_dir(store, incident)
    with amending(store, directory):
        (directory / "notes.txt").write_text(f"context before {FORMS[form]} and after\n")
    proc = cli(
        "archive",
        "verify",
        incident,
        "--secret",
        "TRADE_API_TOKEN",
        "--archive",
        str(store),
        env={"TRADE_API_TOKEN": SECRET},
    )
    assert proc.returncode == 1, (form, proc.stdout, proc.stderr)
    assert "secret: the value of $TRADE_API_TOKEN appears in notes.txt" in proc.stdout, proc.stdout
    assert SECRET not in proc.stdout + proc.stderr


@pytest.mark.slow
def test_a_printed_secret_is_redacted_as_it_is_written(tmp_path: Path, sandbox: Path) -> None:
    store = tmp_path / "archive"
    incident = open_incident(store, "leak", "low", "other").id
    nb = make_notebook(
        tmp_path / "leaks.ipynb",
        "import os; print(os.environ['TRADE_API_TOKEN'])",
        "import os, html; from IPython.display import HTML; "
        "display(HTML('<b>' + html.escape(os.environ['TRADE_API_TOKEN']) + '</b>'))",
    )
    proc = cli(
        "run",
        str(nb),
        "--incident",
        incident,
        "--target",
        str(sandbox),
        "--archive",
        str(store),
        "--json",
        env={"TRADE_API_TOKEN": SECRET},
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert any("$TRADE_API_TOKEN" in f and "***" in f for f in data["findings"]), data["findings"]
    output, page = Path(data["output"]), Path(data["html"])
    for path in (output, page):
        raw = path.read_bytes()
        for form in ("raw", "JSON-escaped", "HTML-escaped"):
            assert FORMS[form].encode() not in raw, (path.name, form)
    text = "".join(
        o.get("text", "")
        for c in nbformat.read(output, as_version=4).cells
        for o in c.get("outputs", [])
    )
    assert "***" in text
    chain = incident_dir(store, incident) / "chain.jsonl"
    if chain.is_file():
        assert "TRADE_API_TOKEN" in chain.read_text()
    verify = cli(
        "archive",
        "verify",
        incident,
        "--secret",
        "TRADE_API_TOKEN",
        "--archive",
        str(store),
        env={"TRADE_API_TOKEN": SECRET},
    )
    assert verify.returncode == 0, verify.stdout
    # What was removed stays provable: a salted digest, checked by whoever holds the secret.
    assert "removed the value of $TRADE_API_TOKEN (salted digest matches)" in verify.stdout
    manifest = json.loads((incident_dir(store, incident) / "manifest.json").read_text())
    [entry] = manifest["redactions"]
    assert entry["secret"] == "TRADE_API_TOKEN" and len(entry["salt"]) == 32
    other = cli(
        "archive",
        "verify",
        incident,
        "--secret",
        "TRADE_API_TOKEN",
        "--archive",
        str(store),
        env={"TRADE_API_TOKEN": SECRET + "-rotated"},
    )
    assert "a value of $TRADE_API_TOKEN other than the one given" in other.stdout, other.stdout


def test_a_parameter_holding_eight_characters_of_a_secret_is_refused(
    tmp_path: Path, sandbox: Path
) -> None:
    store = tmp_path / "archive"
    incident = open_incident(store, "param", "low", "other").id
    nb = make_notebook(tmp_path / "p.ipynb", "print(label)")
    proc = cli(
        "run",
        str(nb),
        "--incident",
        incident,
        "--target",
        str(sandbox),
        "--archive",
        str(store),
        "-p",
        "label",
        f"prefix-{SECRET[3:11]}",
        env={"TRADE_API_TOKEN": SECRET},
    )
    assert (
        proc.returncode == 2 and "carries the value of the secret $TRADE_API_TOKEN" in proc.stderr
    )
    assert SECRET[3:11] not in proc.stderr
    assert not (incident_dir(store, incident) / "runs").exists()
