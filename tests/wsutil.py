"""Helpers for tests that import a sandbox workspace's own code in-process."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path

_WORKSPACE_PACKAGES = ("src", "trade_agent_sac")


def _forget_workspace_modules() -> None:
    for name in list(sys.modules):
        if name.split(".")[0] in _WORKSPACE_PACKAGES:
            del sys.modules[name]


@contextlib.contextmanager
def workspace_on_path(root: Path) -> Iterator[None]:
    """Make ``src.rl...`` (and the workspace's ``.site``) importable from ``root``.

    Modules are imported fresh and forgotten on exit, so tests on different
    workspaces never share module state.
    """
    entries = [str(root), str(root / ".site")]
    _forget_workspace_modules()
    sys.path[:0] = entries
    try:
        yield
    finally:
        for entry in entries:
            sys.path.remove(entry)
        _forget_workspace_modules()
