"""The installed trade-agent-sac package is the one this release's source describes."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

PACKAGE = "trade-agent-sac"


def source_version(repo_root: Path) -> str:
    pyproject = repo_root / "packages" / PACKAGE / "pyproject.toml"
    version: str = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["version"]
    return version


def installed_versions(site: Path) -> list[str]:
    versions = []
    for metadata in sorted(site.glob("*.dist-info/METADATA")):
        fields = dict(
            line.split(": ", 1) for line in metadata.read_text().splitlines() if ": " in line
        )
        if fields.get("Name") == PACKAGE:
            versions.append(fields["Version"])
    return versions


def test_exactly_one_version_installed(repo_root: Path) -> None:
    versions = installed_versions(repo_root / ".site")
    assert len(versions) == 1, f"{PACKAGE} versions installed in .site: {versions or 'none'}"


def test_installed_version_matches_source(repo_root: Path) -> None:
    import trade_agent_sac

    expected = source_version(repo_root)
    assert trade_agent_sac.__version__ == expected, (
        f"installed {PACKAGE} {trade_agent_sac.__version__} but packages/{PACKAGE} is {expected}"
    )
    assert Path(trade_agent_sac.__file__).resolve().is_relative_to((repo_root / ".site").resolve())


def test_wheel_of_installed_version_is_in_wheelhouse(repo_root: Path) -> None:
    wheel = (
        repo_root / "wheelhouse" / f"trade_agent_sac-{source_version(repo_root)}-py3-none-any.whl"
    )
    if not wheel.is_file():
        pytest.fail(f"{wheel.name} is not in wheelhouse/: an offline reinstall would fail")
