"""The seal's environment facts, read without importlib.metadata, say what it would say."""

from __future__ import annotations

import importlib.util
import json
import os
import platform
import socket
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from runbook_lib.evidence.environment import _VERSIONED, environment_facts


def _expected(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def test_versions_and_host_match_importlib_metadata_and_socket() -> None:
    facts = environment_facts(with_system_info=False)
    assert {n: facts["versions"][n] for n in _VERSIONED if n != "python"} == {
        n: _expected(n) for n in _VERSIONED if n != "python"
    }
    assert facts["host"] == socket.gethostname()
    assert any(line.lower().startswith("filelock==") for line in facts["pip_freeze"])


def test_platform_and_python_version_match_the_platform_module() -> None:
    facts = environment_facts(with_system_info=False)
    assert facts["platform"] == platform.platform()
    assert facts["versions"]["python"] == platform.python_version()


_CHILD = """
import json, os, sys
before = dict(os.environ)
from runbook_lib.evidence.environment import environment_facts
facts = environment_facts()
print(json.dumps({
    "environment_unchanged": dict(os.environ) == before,
    "torch_imported": "torch" in sys.modules,
    "info": facts["sb3_system_info"],
}))
"""


@pytest.mark.skipif(
    importlib.util.find_spec("stable_baselines3") is None, reason="no stable-baselines3"
)
def test_sb3_system_info_is_sb3s_own_and_leaves_the_process_alone() -> None:
    from stable_baselines3.common.utils import get_system_info

    done = subprocess.run(
        [sys.executable, "-c", _CHILD], capture_output=True, text=True, timeout=300, check=True
    )
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["info"] == get_system_info(print_info=False)[0]
    assert seen["environment_unchanged"] is True  # gymnasium's import ran in a child
    assert seen["torch_imported"] is False


_FACTS_CHILD = """
import json, sys
from runbook_lib.evidence.environment import environment_facts
print(json.dumps({"info": environment_facts()["sb3_system_info"], "sb3": "torch" in sys.modules}))
"""


def _facts_in_child(cache: Path, **env: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", _FACTS_CHILD],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
        env={**os.environ, "RUNBOOK_CACHE_DIR": str(cache), **env},
    )
    seen: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return seen


@pytest.mark.skipif(
    importlib.util.find_spec("stable_baselines3") is None, reason="no stable-baselines3"
)
def test_sb3_system_info_is_asked_once_per_machine_state(tmp_path: Path) -> None:
    from stable_baselines3.common.utils import get_system_info

    cache = tmp_path / "cache"
    first = _facts_in_child(cache, CUDA_VISIBLE_DEVICES="")
    assert first["info"] == get_system_info(print_info=False)[0]
    (saved,) = (cache / "sb3-system-info").iterdir()
    # What the next process reads is the file, not a new child's answer: plant one.
    planted = {"info": {**json.loads(saved.read_text())["info"], "GPU Enabled": "planted"}}
    saved.write_text(json.dumps(planted))
    assert _facts_in_child(cache, CUDA_VISIBLE_DEVICES="")["info"] == planted["info"]
    # Another choice of GPUs is another machine state: asked again, kept beside it.
    assert _facts_in_child(cache, CUDA_VISIBLE_DEVICES="0")["info"] == first["info"]
    assert len(list((cache / "sb3-system-info").iterdir())) == 2
    # A torn or foreign file is asked again and replaced.
    saved.write_text("{not json")
    assert _facts_in_child(cache, CUDA_VISIBLE_DEVICES="")["info"] == first["info"]
    assert json.loads(saved.read_text())["info"] == first["info"]
    assert first["sb3"] is False  # asked of a child, never imported by the process itself
