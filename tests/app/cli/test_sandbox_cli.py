"""``runbook sandbox create`` in a subprocess: one progress line per model it trains."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from runbook_lib.sandbox.materialize import WorkspaceInfo
from runbook_lib.sandbox.tags import RELEASE_TAG
from tests.runutil import runbook_executable


def create(directory: Path, cache: Path, *args: str) -> subprocess.CompletedProcess[str]:
    argv = [runbook_executable(), "sandbox", "create", str(directory), "--cache-dir", str(cache)]
    return subprocess.run(
        [*argv, *args],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        check=False,
        timeout=900,
    )


@pytest.mark.slow
def test_a_training_is_one_line_and_a_warm_json_run_prints_none(
    sandbox_info: WorkspaceInfo, model_cache: Path, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    shutil.copytree(model_cache, cache)
    models = cache / "sac" / "models"
    for entry in models.iterdir():  # forget the release's model: this run trains it again
        meta = entry / "meta.json"
        if meta.is_file() and json.loads(meta.read_text())["tag"] == RELEASE_TAG:
            shutil.rmtree(entry)
    proc = create(tmp_path / "cold", cache)
    assert proc.returncode == 0, proc.stderr
    training, outcome = proc.stderr.splitlines()
    assert training.startswith(f"sandbox 1/1: models/sac_v2.zip ({RELEASE_TAG}): trained in ")
    assert outcome.startswith(f"sandbox: creating {tmp_path / 'cold'}: done (")
    assert "(trained sac_v2.zip in " in proc.stdout
    warm = create(tmp_path / "warm", cache, "--json")
    assert warm.returncode == 0 and warm.stderr == ""  # nothing but the object under --json
    assert json.loads(warm.stdout)["artifacts"]["models"] == "sac_v1.zip, sac_v2.zip (cache hit)"
