"""The seal's environment facts, read without importlib.metadata, say what it would say."""

from __future__ import annotations

import platform
import socket
from importlib import metadata

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
