"""Shared fixtures: one materialized sandbox per session, fresh copies per test, shared drills."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from runbook_lib.app.drill import DrillReport
from runbook_lib.sandbox import WorkspaceInfo, create_workspace
from tests.drillutil import DrillRunner, ExecutedDrill

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sandbox's model cache, shared by every workspace of the session.

    ``outputs/.cache`` survives between local runs (git ignores it), so a warm
    run reuses trained models; a fresh clone in CI trains them once.
    """
    cache = PROJECT_ROOT / "outputs" / ".cache" / "sandbox-models"
    cache.mkdir(parents=True, exist_ok=True)
    return cache


@pytest.fixture(scope="session")
def sandbox_info(tmp_path_factory: pytest.TempPathFactory, model_cache: Path) -> WorkspaceInfo:
    """A sandbox materialized once per session. Treat it as read-only."""
    return create_workspace(tmp_path_factory.mktemp("sandbox") / "ws", cache_dir=model_cache)


@pytest.fixture(scope="session")
def sandbox(sandbox_info: WorkspaceInfo) -> Path:
    """Root of the session's read-only sandbox workspace."""
    return sandbox_info.root


def _copy_or_link_object(source: str, dest: str) -> None:
    """Copy a file, but hard-link git's objects, as ``git clone`` of a local repository does.

    Git never writes into an object file (a new object is a new file, a repack
    writes new packs and unlinks the old), so a link is as private as a copy;
    they are about half the sandbox's files.
    """
    if f"{os.sep}.git{os.sep}objects{os.sep}" in dest:
        try:
            os.link(source, dest)
            return
        except OSError:  # another file system, or links refused
            pass
    shutil.copy2(source, dest)


@pytest.fixture
def fresh_sandbox(sandbox: Path, tmp_path: Path) -> Path:
    """A private copy of the session sandbox (git history included) that a test may change."""
    dest = tmp_path / "ws"
    shutil.copytree(sandbox, dest, symlinks=True, copy_function=_copy_or_link_object)
    return dest


@pytest.fixture(scope="session")
def shared_dir(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Path:
    """A directory every xdist worker of this session sees (the session's own without xdist)."""
    base = tmp_path_factory.getbasetemp()
    # An xdist worker's base is popen-gwN inside the session's directory; without
    # xdist (or with -p no:xdist) the base is the session's own.
    root = base.parent if hasattr(request.config, "workerinput") else base
    shared = root / "shared"
    shared.mkdir(exist_ok=True)
    return shared


@pytest.fixture(scope="session")
def executed_drill(shared_dir: Path, model_cache: Path) -> DrillRunner:
    """``executed_drill(scenario, episodes=4)``: that drill, run once for the whole session.

    Tests that only read a drill's outcome share one run of it (across xdist
    workers too: the first to ask runs it under a file lock, the others wait
    and read its saved report). The archive is shared: a test that would
    change it copies it first (``shutil.copytree``).
    """
    from filelock import FileLock

    from runbook_lib.app.drill import run_drill

    def run(scenario: str, episodes: int = 4) -> ExecutedDrill:
        home = shared_dir / f"drill-{scenario}-{episodes}"
        saved = home / "report.json"
        with FileLock(str(home) + ".lock"):
            if not saved.is_file():
                shutil.rmtree(home, ignore_errors=True)  # a drill interrupted before its report
                report = run_drill(
                    home / "archive", scenario, cache_dir=model_cache, episodes=episodes
                )
                fields = {k: v for k, v in report.to_dict().items() if k != "ok"}
                partial = saved.with_suffix(".partial")
                partial.write_text(json.dumps(fields), encoding="utf-8")
                partial.replace(saved)
        return ExecutedDrill(home / "archive", DrillReport(**json.loads(saved.read_text("utf-8"))))

    return run


@pytest.fixture(scope="session", autouse=True)
def sb3_logs_in_the_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """SB3's ``learn`` makes an empty ``$TMPDIR/SB3-<time>`` per call unless ``SB3_LOGDIR`` names one.

    The sandbox's training and the checks' smoke runs call it in this process
    and in every target process the tests start (they inherit the variable):
    one folder of the session instead of hundreds left in the machine's /tmp.
    """
    before = os.environ.get("SB3_LOGDIR")
    os.environ["SB3_LOGDIR"] = str(tmp_path_factory.mktemp("sb3-logs"))
    yield
    if before is None:
        os.environ.pop("SB3_LOGDIR", None)
    else:
        os.environ["SB3_LOGDIR"] = before
