"""The foreign profile's own venv: pinned requirements, installed once, linked into each workspace.

A virtual environment hard-codes its own location in its scripts, so a copied
venv breaks when the workspace moves. This module creates the workspace's
``.venv`` in place instead, and keeps what is slow in the cache, as uv does:

1. once per requirement set, ``pip download`` into
   ``CACHE/venvs/<hash>/wheels`` (the hash covers the requirements, the
   Python version and the platform), then ``pip install --target`` from those
   wheels into ``CACHE/venvs/<hash>/site``, so nothing is fetched again and
   nothing unpinned (no other torch) can slip in;
2. every create, ``python -m venv --without-pip`` and the cached ``site``
   hard-linked into the venv's ``site-packages`` (copied where the cache is on
   another file system). Installing torch again took most of a create; linking
   its files takes about a second, and the venv owns its files: deleting the
   cache does not break it.

The venv's ``python`` is a symlink to the base interpreter and finds its
prefix from ``pyvenv.cfg`` beside it, so ``.venv/bin/python`` keeps working
after the workspace is moved.
"""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from runbook_lib.base.errors import WorkspaceError
from runbook_lib.base.fsutil import atomic_write_text
from runbook_lib.base.progress import NO_PROGRESS, ItemProgress

# The foreign project's requirements, pinned as a real project pins them.
FOREIGN_REQUIREMENTS: tuple[str, ...] = (
    "gymnasium==0.29.1",
    "stable-baselines3==2.2.1",
    "numpy==1.26.4",
    "torch==2.13.0",
    "pytest==8.3.5",
)
VENV_DIR = ".venv"
_READY = "ready"
_SITE_READY = "site-ready"
_TIMEOUT_S = 1800


def requirements_hash(requirements: tuple[str, ...]) -> str:
    """A short hash of the requirements, the Python version and the platform."""
    key = "\n".join(
        [*sorted(requirements), platform.python_version(), sys.platform, platform.machine()]
    )
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def base_python() -> str:
    """The interpreter a new venv is made from (runbook's own, outside its venv)."""
    return getattr(sys, "_base_executable", None) or sys.executable


def _run(argv: list[str], what: str) -> None:
    env = dict(os.environ, PIP_DISABLE_PIP_VERSION_CHECK="1", PYTHONDONTWRITEBYTECODE="1")
    try:
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=_TIMEOUT_S, env=env, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise WorkspaceError(f"{what} failed: {exc}") from None
    if done.returncode != 0:
        tail = (done.stderr.strip() or done.stdout.strip()).splitlines()[-3:]
        raise WorkspaceError(
            f"{what} failed (exit {done.returncode}): {' | '.join(tail)}",
            hint="check the package index and the wheel cache",
        )


def wheel_cache(cache_dir: Path, requirements: tuple[str, ...] = FOREIGN_REQUIREMENTS) -> Path:
    """The wheels of ``requirements``, downloaded into the cache once.

    Raises:
        WorkspaceError: pip cannot download them.
    """
    home = cache_dir / "venvs" / requirements_hash(requirements)
    wheels = home / "wheels"
    if (home / _READY).is_file():
        return wheels
    home.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".wheels-", dir=home))
    _run(
        [base_python(), "-m", "pip", "download", "-q", "-d", str(staging), *requirements],
        "downloading the foreign profile's wheels",
    )
    if wheels.exists():  # a concurrent create finished first: keep its copy
        for path in staging.iterdir():
            path.unlink()
        staging.rmdir()
    else:
        staging.rename(wheels)
    atomic_write_text(home / _READY, "\n".join(requirements) + "\n")
    return wheels


def site_cache(cache_dir: Path, requirements: tuple[str, ...] = FOREIGN_REQUIREMENTS) -> Path:
    """``requirements`` installed once (``pip install --target``) from the cached wheels.

    Raises:
        WorkspaceError: pip cannot download or install them.
    """
    wheels = wheel_cache(cache_dir, requirements)
    home = wheels.parent
    site = home / "site"
    if (home / _SITE_READY).is_file():
        return site
    staging = Path(tempfile.mkdtemp(prefix=".site-", dir=home))
    _run(
        [
            base_python(),
            "-m",
            "pip",
            "install",
            "-q",
            "--no-index",
            "--find-links",
            str(wheels),
            "--target",
            str(staging),
            *requirements,
        ],
        "installing the foreign profile's requirements into the cache",
    )
    if site.exists():  # a concurrent create finished first: keep its copy
        shutil.rmtree(staging)
    else:
        staging.rename(site)
    atomic_write_text(home / _SITE_READY, "\n".join(requirements) + "\n")
    return site


def link_tree(source: Path, dest: Path) -> None:
    """Hard-link every file of ``source`` under ``dest`` (a copy across file systems).

    ``source/bin`` is left out: ``pip --target`` writes console scripts whose first
    line names the interpreter that installed them, not the venv's.
    """
    for top, dirs, files in os.walk(source):
        here = Path(top)
        if here == source:
            dirs[:] = [d for d in dirs if d != "bin"]
        target = dest / here.relative_to(source)
        target.mkdir(parents=True, exist_ok=True)
        for name in files:
            try:
                os.link(here / name, target / name)
            except OSError:  # another file system, or links refused: a copy
                shutil.copy2(here / name, target / name)


def create_venv(
    workspace: Path,
    cache_dir: Path,
    progress: ItemProgress = NO_PROGRESS,
    requirements: tuple[str, ...] = FOREIGN_REQUIREMENTS,
) -> dict[str, str]:
    """Create ``workspace/.venv`` with ``requirements`` linked from the cache.

    ``progress`` is told once the requirements are in place.

    Returns:
        The report line for ``runbook sandbox create`` (``venv``).

    Raises:
        WorkspaceError: the venv or an install fails.
    """
    site = site_cache(cache_dir, requirements)
    venv = workspace / VENV_DIR
    _run([base_python(), "-m", "venv", "--without-pip", str(venv)], "creating the workspace venv")
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    link_tree(site, venv / "lib" / version / "site-packages")
    progress.item_done(VENV_DIR, f"linked {len(requirements)} requirements", total=1)
    pinned = ", ".join(r for r in requirements if not r.startswith("pytest"))
    return {"venv": f"{VENV_DIR}/bin/python ({pinned}; from {site})"}
