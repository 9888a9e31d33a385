"""``runbook keys generate`` through the installed executable."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from tests.runutil import cli

NO_LOCATIONS = {"RUNBOOK_ARCHIVE": "", "RUNBOOK_TARGET": "", "RUNBOOK_SIGNING_KEY": ""}


def _clean_env(tmp_path: Path) -> dict[str, str]:
    return {**NO_LOCATIONS, "XDG_DATA_HOME": str(tmp_path / "data"), "HOME": str(tmp_path)}


def test_a_key_needs_no_archive_or_target(tmp_path: Path) -> None:
    out = tmp_path / "keys" / "signing.key"
    done = cli("keys", "generate", "--out", str(out), cwd=tmp_path, env=_clean_env(tmp_path))
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    assert out.with_name("signing.key.pub").is_file()
    assert "fingerprint sha256:" in done.stdout


def test_a_key_inside_the_archive_is_refused_in_one_line(tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    archive.mkdir()
    out = archive / "signing.key"
    done = cli(
        "keys",
        "generate",
        "--out",
        str(out),
        "--archive",
        str(archive),
        cwd=tmp_path,
        env=_clean_env(tmp_path),
    )
    assert done.returncode == 2 and len(done.stderr.splitlines()) == 1, done.stderr
    assert "inside the archive" in done.stderr and not out.exists()


def test_an_existing_key_is_never_overwritten(tmp_path: Path) -> None:
    out = tmp_path / "signing.key"
    out.write_text("mine")
    done = cli("keys", "generate", "--out", str(out), cwd=tmp_path, env=_clean_env(tmp_path))
    assert done.returncode == 2 and "already exists" in done.stderr
    assert out.read_text() == "mine"
