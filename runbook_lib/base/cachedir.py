"""Where the runbook keeps what it can compute again: ``$RUNBOOK_CACHE_DIR``, else the user's cache.

The sandbox's trained models and virtualenvs, the interpreters' SB3
system info and the parsed ``runbook.toml`` files (by their text's digest)
live under it; deleting it loses nothing but time.
"""

from __future__ import annotations

import os
from pathlib import Path


def default_cache_dir() -> Path:
    """Return the cache: ``$RUNBOOK_CACHE_DIR``, else ``$XDG_CACHE_HOME/runbook`` (``~/.cache``)."""
    explicit = os.environ.get("RUNBOOK_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "runbook"
