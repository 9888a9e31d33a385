"""The seal's environment facts, read without importlib.metadata, say what it would say."""

from __future__ import annotations

import importlib.util
import json
import platform
import socket
import subprocess
import sys
from importlib import metadata

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
