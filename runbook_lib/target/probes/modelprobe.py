"""Reading the models check's config: the parsed file and the model it deploys.

Both run in runbook's process (a config file is data);
:mod:`runbook_lib.verify.checks.models` loads the models themselves in the
target's interpreter through the env worker's ``models`` call.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def _error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:1000]


def load_config(path: str | None) -> tuple[Any, str | None]:
    """The parsed JSON config (or ``None``) and why it could not be read."""
    if path is None:
        return None, None
    try:
        return json.loads(Path(path).read_text(encoding="utf-8")), None
    except (OSError, ValueError) as exc:
        return None, f"cannot read {path}: {_error(exc)}"


def deployed_model(config: Any, key: str | None) -> tuple[str | None, str | None]:
    """The model path the config's dotted ``key`` names, or why there is none."""
    if key is None or config is None:
        return None, None
    value = config
    for part in key.split("."):
        if not isinstance(value, dict) or part not in value:
            return None, f"the config has no key {key!r}"
        value = value[part]
    if not isinstance(value, str):
        return None, f"the config's {key!r} is {value!r}, not a path"
    return Path(value).as_posix(), None
