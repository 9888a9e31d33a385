"""Materialize the sandbox target into a git workspace.

The templates under ``files/`` hold three trees: ``common`` (in both releases),
``v1`` (only in the stable ``v1.0`` release) and ``v2`` (only in the ``v2.0``
release). The workspace gets one commit per release, tagged, with HEAD at
``v2.0``; then the artifacts that are not tracked by git (models, backups,
wheels, the workspace's own site directory) are built by :mod:`.artifacts`.

The workspace is built in a temporary sibling directory and renamed into place,
so an interrupted run never leaves a half-made workspace at ``dest``.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import runbook_lib
from runbook_lib.base.errors import InvalidInputError
from runbook_lib.base.progress import NO_PROGRESS, ItemProgress
from runbook_lib.sandbox.tags import RELEASE_TAG, STABLE_TAG
from runbook_lib.target.gitutil import git, head_sha

FILES_DIR = Path(__file__).parent / "files"
FOREIGN_DIR = Path(__file__).parent / "foreign"
MARKER = ".runbook-sandbox"
DEFAULT_PROFILE = "default"
FOREIGN_PROFILE = "foreign"
PROFILES = (DEFAULT_PROFILE, FOREIGN_PROFILE)

# Fixed dates make the release commits (and so their SHAs) reproducible.
_RELEASES: tuple[tuple[str, str, str], ...] = (
    ("v1", STABLE_TAG, "2026-01-15T09:00:00+00:00"),
    ("v2", RELEASE_TAG, "2026-03-02T09:00:00+00:00"),
)
_COMMIT_MESSAGES = {
    STABLE_TAG: "Release v1.0: legacy GeneralSimEnv, SAC agent 1.0.0 (stable)",
    RELEASE_TAG: "Release v2.0: UnifiedSimEnv behind create_sim_env (default on), SAC agent 1.1.0",
}
_FOREIGN_MESSAGES = {
    STABLE_TAG: "Release v1.0: LegacyRoutingEnv behind create_sim_env (stable)",
    RELEASE_TAG: "Release v2.0: UnifiedRoutingEnv in an ActionMaskWrapper (default on)",
}


@dataclass(frozen=True)
class WorkspaceInfo:
    """What ``create_workspace`` made."""

    root: Path
    stable_ref: str
    release_ref: str
    stable_sha: str
    head_sha: str
    seconds: float
    artifacts: dict[str, str] = field(default_factory=dict)
    profile: str = DEFAULT_PROFILE


def project_root() -> Path | None:
    """Return the runbook project's source tree when installed from one (editable)."""
    candidate = Path(runbook_lib.__file__).resolve().parent.parent
    return candidate if (candidate / "pyproject.toml").is_file() else None


def check_destination(dest: Path, *, force: bool) -> None:
    """Refuse a destination that would lose files or land inside the project.

    Raises:
        InvalidInputError: ``dest`` is a file, lies inside the project tree
            (other than under ``outputs/``), or holds files that ``force`` may
            not replace.
    """
    dest = dest.resolve()
    root = project_root()
    if root is not None and dest.is_relative_to(root):
        outputs = root / "outputs"
        if not dest.is_relative_to(outputs) or dest == outputs:
            raise InvalidInputError(
                f"{dest} lies inside the runbook project tree",
                hint=f"choose a directory outside {root}, or one under {outputs}/",
            )
    if dest.exists() and not dest.is_dir():
        raise InvalidInputError(f"{dest} exists and is not a directory", hint="choose another path")
    if dest.is_dir() and any(dest.iterdir()):
        if not force:
            raise InvalidInputError(
                f"{dest} already holds files",
                hint="pass --force to replace a previous sandbox, or choose an empty directory",
            )
        if not (dest / MARKER).is_file():
            raise InvalidInputError(
                f"{dest} holds files but is not a runbook sandbox (no {MARKER}); "
                "--force only replaces a previous sandbox",
                hint="choose an empty directory or remove its contents yourself",
            )


# Caches that tools may leave in the template tree are never part of a release.
_SKIPPED = frozenset({"__pycache__", ".ruff_cache", ".mypy_cache", ".pytest_cache"})


def template_files(layer: Path) -> list[Path]:
    """The files of one template layer, without tool caches."""
    return [
        p
        for p in sorted(layer.rglob("*"))
        if p.is_file()
        and not _SKIPPED.intersection(p.relative_to(layer).parts)
        and p.suffix != ".pyc"
    ]


def _copy_tree(src: Path, dest: Path) -> None:
    for path in template_files(src):
        target = dest / path.relative_to(src)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, target)


def _clear_worktree(root: Path) -> None:
    for child in root.iterdir():
        if child.name == ".git":
            continue
        if child.is_dir():
            shutil.rmtree(child)
        else:
            child.unlink()


def _commit_release(root: Path, overlay: str, tag: str, date: str, profile: str) -> None:
    files = FOREIGN_DIR if profile == FOREIGN_PROFILE else FILES_DIR
    messages = _FOREIGN_MESSAGES if profile == FOREIGN_PROFILE else _COMMIT_MESSAGES
    _clear_worktree(root)
    _copy_tree(files / "common", root)
    _copy_tree(files / overlay, root)
    dates = {"GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date}
    # A release file of the same size as its predecessor, written within the
    # same second, looks unchanged to git's stat cache: rebuild the index from
    # the files themselves so every change is committed.
    (root / ".git" / "index").unlink(missing_ok=True)
    git(root, ["add", "-A"], isolated=True)
    git(root, ["commit", "-q", "-m", messages[tag]], env=dates, isolated=True)
    git(root, ["tag", "-a", tag, "-m", tag], env=dates, isolated=True)


def _init_repo(root: Path) -> None:
    git(root, ["init", "-q", "-b", "main"], isolated=True)
    git(root, ["config", "user.name", "sandbox"], isolated=True)
    git(root, ["config", "user.email", "sandbox@localhost"], isolated=True)
    git(root, ["config", "commit.gpgsign", "false"], isolated=True)


def _swap_into_place(staging: Path, dest: Path) -> None:
    if dest.exists():
        trash = dest.with_name(f".{dest.name}.old-{time.time_ns()}")
        dest.rename(trash)
        staging.rename(dest)
        shutil.rmtree(trash, ignore_errors=True)
    else:
        staging.rename(dest)


def check_profile(profile: str) -> None:
    """Refuse an unknown profile.

    Raises:
        InvalidInputError: ``profile`` is not one of :data:`PROFILES`.
    """
    if profile not in PROFILES:
        raise InvalidInputError(
            f"unknown sandbox profile {profile!r}", hint=f"choose one of: {', '.join(PROFILES)}"
        )


def create_workspace(
    dest: Path,
    *,
    force: bool = False,
    cache_dir: Path | None = None,
    profile: str = DEFAULT_PROFILE,
    progress: ItemProgress = NO_PROGRESS,
) -> WorkspaceInfo:
    """Materialize the sandbox target into ``dest`` as a git repository.

    Args:
        dest: Directory to create (or an empty one, or a previous sandbox with ``force``).
        force: Replace a previous sandbox at ``dest``.
        cache_dir: Where trained models (and the foreign profile's wheels) are
            cached between runs; see :func:`runbook_lib.base.cachedir.default_cache_dir`.
        profile: ``default`` (the optical-network + SAC project, run by
            runbook's interpreter) or ``foreign`` (the ``lightpath`` project
            with its own ``.venv``: gymnasium 0.29.1, stable-baselines3 2.2.1).
        progress: Told as each model is trained (a first run only; about 30 s).

    Returns:
        The workspace's paths, refs and the time it took.

    Raises:
        InvalidInputError: ``dest`` or ``profile`` is refused; see :func:`check_destination`.
    """
    from runbook_lib.sandbox import artifacts  # heavy: imports only when building

    check_profile(profile)
    started = time.perf_counter()
    dest = dest.expanduser().resolve()
    check_destination(dest, force=force)
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.new-", dir=dest.parent))
    try:
        _init_repo(staging)
        for overlay, tag, date in _RELEASES:
            _commit_release(staging, overlay, tag, date, profile)
        built = artifacts.build_all(
            staging, cache_dir=cache_dir, profile=profile, progress=progress
        )
        (staging / MARKER).write_text(
            f"runbook sandbox {runbook_lib.__version__} profile {profile}\n", encoding="utf-8"
        )
        stable = git(staging, ["rev-parse", f"{STABLE_TAG}^{{commit}}"], isolated=True).strip()
        head = head_sha(staging)
        _swap_into_place(staging, dest)
    except BaseException:
        with contextlib.suppress(OSError):
            shutil.rmtree(staging)
        raise
    return WorkspaceInfo(
        root=dest,
        stable_ref=STABLE_TAG,
        release_ref=RELEASE_TAG,
        stable_sha=stable,
        head_sha=head,
        seconds=time.perf_counter() - started,
        artifacts=built,
        profile=profile,
    )
