"""``[evidence] signing_key`` in the target's manifest signs seals; bad keys stop before writing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.runutil import cli

MANIFEST = '[target]\nname = "t"\n[git]\nstable_ref = "v1"\n[evidence]\nsigning_key = "{key}"\n'


def _env() -> dict[str, str]:
    return {
        k: v for k, v in os.environ.items() if k not in ("RUNBOOK_SIGNING_KEY", "RUNBOOK_TARGET")
    }


def _target(tmp_path: Path, key: str) -> Path:
    root = tmp_path / "target"
    root.mkdir()
    (root / "runbook.toml").write_text(MANIFEST.format(key=key))
    return root


def _open(root: Path, archive: Path, env: dict[str, str] | None = None) -> object:
    return cli(
        "incident",
        "open",
        "--title",
        "demo",
        "--severity",
        "high",
        "--kind",
        "crash",
        "--archive",
        str(archive),
        cwd=root,
        env=env or _env(),
    )


def test_manifest_key_relative_to_the_root_signs_every_seal(tmp_path: Path) -> None:
    root = _target(tmp_path, "keys/k")
    made = cli("keys", "generate", "--out", str(root / "keys" / "k"), env=_env())
    assert made.returncode == 0, made.stderr
    archive = tmp_path / "archive"
    assert _open(root, archive).returncode == 0  # type: ignore[attr-defined]
    done = cli(
        "archive",
        "verify",
        "--archive",
        str(archive),
        "--pubkey",
        str(root / "keys" / "k.pub"),
        cwd=root,
        env=_env(),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("ok    INC-") and "signed by sha256:" in done.stdout


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        ("missing", "cannot read the signing key"),
        ("mode", "has mode 0644: others may read it"),
        ("format", "is not an Ed25519 private key"),
        ("inside", "is inside the archive"),
    ],
)
def test_bad_key_is_one_line_exit_2_and_nothing_written(
    tmp_path: Path, setup: str, expected: str
) -> None:
    archive = tmp_path / "archive"
    key = archive / "k" if setup == "inside" else tmp_path / "keys" / "k"
    root = _target(tmp_path, str(key))
    if setup != "missing":
        assert (
            cli("keys", "generate", "--out", str(tmp_path / "keys" / "k"), env=_env()).returncode
            == 0
        )
        if setup == "inside":
            archive.mkdir()
            key.write_bytes((tmp_path / "keys" / "k").read_bytes())
            key.chmod(0o600)
    if setup == "mode":
        key.chmod(0o644)
    if setup == "format":
        key.write_text("not a key\n")
        key.chmod(0o600)
    done = _open(root, archive)
    assert done.returncode == 2, done.stdout + done.stderr  # type: ignore[attr-defined]
    err = done.stderr.strip()  # type: ignore[attr-defined]
    assert "\n" not in err and expected in err and "Traceback" not in err
    assert not (archive / "incidents").exists() or not list((archive / "incidents").iterdir())


def test_env_var_wins_over_the_manifest(tmp_path: Path) -> None:
    root = _target(tmp_path, "missing/k")
    assert cli("keys", "generate", "--out", str(tmp_path / "env.key"), env=_env()).returncode == 0
    env = {**_env(), "RUNBOOK_SIGNING_KEY": str(tmp_path / "env.key")}
    archive = tmp_path / "archive"
    assert _open(root, archive, env).returncode == 0  # type: ignore[attr-defined]
    done = cli(
        "archive",
        "verify",
        "--archive",
        str(archive),
        "--pubkey",
        str(tmp_path / "env.key.pub"),
        cwd=root,
        env=env,
    )
    assert done.returncode == 0, done.stdout + done.stderr
