"""The env factory runbook calls: ``make_env(config, env_type=...)``.

Both sides build the same ``CartPole-v1``; what differs is the interpreter
(and so the gymnasium release) each side runs in, named in ``runbook.toml``.
"""

from __future__ import annotations

from typing import Any


def make_env(config: Any = None, env_type: str | None = None) -> Any:
    """``gymnasium.make('CartPole-v1')`` from whichever gymnasium this interpreter has."""
    import gymnasium

    return gymnasium.make("CartPole-v1")
