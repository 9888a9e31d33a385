"""Thin, typed wrappers over the ``git`` command line."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from runbook_lib.base.errors import WorkspaceError

# A fixed identity and no user/system config, so that the runbook's own commits
# do not depend on (or fail because of) the machine's git configuration.
_ISOLATED_ENV = {
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_AUTHOR_NAME": "runbook",
    "GIT_AUTHOR_EMAIL": "runbook@localhost",
    "GIT_COMMITTER_NAME": "runbook",
    "GIT_COMMITTER_EMAIL": "runbook@localhost",
    "GIT_TERMINAL_PROMPT": "0",
}


def git(
    repo: Path,
    args: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    check: bool = True,
    isolated: bool = False,
) -> str:
    """Run ``git -C repo ARGS`` and return its stdout.

    Args:
        repo: The working tree to run in.
        args: Arguments after ``git``.
        env: Extra environment variables.
        check: Raise :class:`WorkspaceError` on a non-zero exit.
        isolated: Ignore the user's and the system's git configuration.

    Raises:
        WorkspaceError: git failed and ``check`` is true; the message carries git's stderr.
    """
    full_env = dict(os.environ)
    if isolated:
        full_env.update(_ISOLATED_ENV)
    if env:
        full_env.update(env)
    proc = subprocess.run(
        ["git", "-C", str(repo), *args],
        capture_output=True,
        text=True,
        env=full_env,
        check=False,
    )
    if check and proc.returncode != 0:
        raise WorkspaceError(
            f"git {' '.join(args)} failed in {repo}: {proc.stderr.strip() or proc.stdout.strip()}"
        )
    return proc.stdout


def ref_exists(repo: Path, ref: str) -> bool:
    """Tell whether ``ref`` names a commit in ``repo``."""
    proc = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"],
        capture_output=True,
        text=True,
        check=False,
    )
    return proc.returncode == 0


def head_sha(repo: Path) -> str:
    """Return the full SHA of HEAD."""
    return git(repo, ["rev-parse", "HEAD"]).strip()
