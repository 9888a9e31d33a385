from __future__ import annotations

import base64
import hashlib
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from runbook_lib.base.errors import InvalidInputError
from runbook_lib.rollback.actions.package import PackageAction, installed, pip_install_command
from tests.rollback.actions.lifecycle import full_cycle


def make_wheel(wheelhouse: Path, version: str, modules: dict[str, str]) -> Path:
    """A minimal, valid PEP 427 wheel of the 'demo-pkg' project."""
    dist = f"demo_pkg-{version}.dist-info"
    files = {f"demo_pkg/{name}": text.encode() for name, text in modules.items()}
    files[f"{dist}/METADATA"] = (
        f"Metadata-Version: 2.1\nName: demo-pkg\nVersion: {version}\n".encode()
    )
    files[f"{dist}/WHEEL"] = (
        b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    )
    record = []
    for name, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{name},sha256={digest},{len(data)}")
    record.append(f"{dist}/RECORD,,")
    files[f"{dist}/RECORD"] = ("\n".join(record) + "\n").encode()
    path = wheelhouse / f"demo_pkg-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return path


@pytest.fixture
def target(tmp_path: Path) -> Path:
    root = tmp_path / "target"
    wheelhouse = root / "wheelhouse"
    wheelhouse.mkdir(parents=True)
    make_wheel(wheelhouse, "1.0.0", {"__init__.py": "__version__ = '1.0.0'\n"})
    make_wheel(
        wheelhouse, "1.1.0", {"__init__.py": "__version__ = '1.1.0'\n", "features.py": "X = 1\n"}
    )
    command = pip_install_command(sys.executable, wheelhouse, root / ".site", "demo-pkg", "1.1.0")
    subprocess.run(command, check=True)
    return root


def test_downgrade_cycle(target: Path, tmp_path: Path) -> None:
    action = PackageAction("demo-pkg", "1.0.0", "wheelhouse", ".site")
    step = full_cycle(action, target, tmp_path / "inc")
    removed = {c.path for c in step.changes if c.kind == "remove"}
    assert ".site/demo_pkg/features.py" in removed
    assert ".site/demo_pkg-1.1.0.dist-info/METADATA" in removed
    assert step.params["previous"] == "1.1.0"
    assert [d.version for d in installed(target / ".site", "demo-pkg")] == ["1.1.0"]


def test_applied_version_imports(target: Path, tmp_path: Path) -> None:
    from tests.rollback.actions.lifecycle import make_context, save_blobs

    action = PackageAction("demo-pkg", "1.0.0", "wheelhouse", ".site")
    ctx = make_context(target, tmp_path / "inc")
    step = action.plan(target)
    save_blobs(step, ctx)
    action.apply(step, ctx)
    out = subprocess.run(
        [sys.executable, "-c", "import demo_pkg, pathlib; print(demo_pkg.__version__)"],
        env={"PYTHONPATH": str(target / ".site")},
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "1.0.0"
    assert [d.version for d in installed(target / ".site", "demo-pkg")] == ["1.0.0"]
    assert not (target / ".site/demo_pkg/features.py").exists()


def test_missing_version_is_refused(target: Path) -> None:
    with pytest.raises(
        InvalidInputError, match=r"no wheel of demo-pkg==0\.9\.0.*wheels there: demo_pkg-1\.0\.0"
    ):
        PackageAction("demo-pkg", "0.9.0", "wheelhouse", ".site").plan(target)
