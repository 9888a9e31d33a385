"""Parity on Ray: the records of the process pool for the same seeds, on a local Ray instance."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from runbook_lib.base.errors import InvalidInputError
from runbook_lib.incident.store import open_incident
from runbook_lib.parity.raybackend import start_local
from runbook_lib.target.manifest import load_manifest
from tests.parity.parityutil import (
    DIVERGENT_SEEDS,
    PoolRun,
    as_json,
    parity,
    set_divergent_faults,
    timeless,
)
from tests.runutil import runbook_executable

pytestmark = pytest.mark.filterwarnings("ignore:GeneralSimEnv is deprecated:DeprecationWarning")
MINIMAL = '[target]\nname = "t"\n[git]\nstable_ref = "v1"\n'


@pytest.fixture(scope="module")
def local_ray() -> Iterator[Any]:
    """A local Ray instance for the module; its files in a short temporary dir (socket paths)."""
    ray = pytest.importorskip(
        "ray", reason="the ray extra is not installed: pip install -e '.[ray]'"
    )
    temp_dir = Path(tempfile.mkdtemp(prefix="rbray", dir="/tmp"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RAY_AUTH_MODE", "disabled")
        start_local(ray, 2, temp_dir)  # started a second time if its raylet missed 30 s
        try:
            yield ray
        finally:
            ray.shutdown()
            shutil.rmtree(temp_dir, ignore_errors=True)


@pytest.mark.slow
def test_ray_gives_the_records_of_the_process_pool(
    local_ray: Any, fresh_sandbox: Path, tmp_path: Path, divergent_pool: PoolRun
) -> None:
    set_divergent_faults(fresh_sandbox)
    pool = divergent_pool  # the process pool's run of the same seeds and faults, once a session
    on_ray = parity(fresh_sandbox, tmp_path, seeds=DIVERGENT_SEEDS, workers=2, backend="ray").report
    assert [r.seed for r in on_ray.records] == list(DIVERGENT_SEEDS)
    assert as_json(timeless(on_ray.records)) == pool.records
    assert as_json(on_ray.first_divergence) == pool.first_divergence
    assert on_ray.crash is not None and on_ray.crash["step"] == 900
    assert local_ray.is_initialized()  # joined the running instance, left it running


def test_backend_inputs_are_checked_first(sandbox: Path, tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="unknown backend 'dask'"):
        parity(sandbox, tmp_path, seeds=(1,), backend="dask")
    with pytest.raises(InvalidInputError, match="baseline replay runs on the process pool"):
        parity(sandbox, tmp_path, backend="ray", baseline=tmp_path / "b.npz")


@pytest.mark.parametrize("address", ["auto", "10.0.0.5:6379", "ray://head.example:10001"])
def test_manifest_ray_address_is_read(tmp_path: Path, address: str) -> None:
    (tmp_path / "runbook.toml").write_text(MINIMAL + f'[parity]\nray_address = "{address}"\n')
    assert load_manifest(tmp_path).ray_address == address
    (tmp_path / "runbook.toml").write_text(MINIMAL)
    assert load_manifest(tmp_path).ray_address is None


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ('"http://head:6379"', "'http://head:6379' is not a Ray address"),
        ('"head"', "'head' is not a Ray address"),
        ("6379", "parity.ray_address: must be a string"),
    ],
)
def test_bad_ray_address_names_the_key(tmp_path: Path, value: str, message: str) -> None:
    (tmp_path / "runbook.toml").write_text(MINIMAL + f"[parity]\nray_address = {value}\n")
    with pytest.raises(InvalidInputError, match=message) as caught:
        load_manifest(tmp_path)
    assert "ray_address" in str(caught.value)


@pytest.mark.slow
def test_cli_starts_and_stops_a_local_ray_under_the_archive(sandbox: Path) -> None:
    pytest.importorskip("ray", reason="the ray extra is not installed: pip install -e '.[ray]'")
    # Short: Ray's unix socket paths under the temp dir must stay below 108 bytes.
    archive = Path(tempfile.mkdtemp(prefix="rb", dir="/tmp"))
    try:
        incident = open_incident(archive, "parity on ray", "high", "result-difference").id
        # The CLI must disable Ray's auth token by itself: a token would land under HOME.
        env = {k: v for k, v in os.environ.items() if k != "RAY_AUTH_MODE"}
        env["HOME"] = str(archive / "home")
        done = subprocess.run(
            [
                runbook_executable(),
                "parity",
                "--incident",
                incident,
                "--seeds",
                "1,2",
                "--workers",
                "2",
                "--backend",
                "ray",
                "--target",
                str(sandbox),
                "--archive",
                str(archive),
                "--json",
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=240,
            check=False,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        data = json.loads(done.stdout)
        assert [r["seed"] for r in data["records"]] == [1, 2] and data["verdict"] == "PASS"
        assert any((archive / "ray").glob("session_*"))
        assert not (archive / "home" / ".ray").exists()  # RAY_AUTH_MODE=disabled: no token
    finally:
        shutil.rmtree(archive, ignore_errors=True)
