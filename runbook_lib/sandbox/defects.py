"""Release defects of the SAC agent to inject into a sandbox for incident drills.

Each defect is something a bad release or a bad day does to the v2.0
workspace, and the workspace's own ``pytest`` catches each one in a test whose
name and message say what broke (:data:`SYMPTOMS`). :data:`DEFECTS` is the table:

* ``config-corrupt``: ``configs/sac_config.json`` cut off mid-file (not JSON)
* ``config-out-of-range``: ``env.transaction_cost`` set to 1.5 (allowed 0..0.05)
* ``model-obs-mismatch``: ``models/sac_v2.zip`` replaced by a model trained on
  release 1.0's 17-value observations (the v2.0 env gives 20)
* ``code-nan-action``: ``src/rl/sac/sac_agent.py`` standardizes each action by
  its own spread, which is 0, so every action is NaN
* ``code-predict-error``: ``src/rl/sac/sac_agent.py`` drops the last observation
  value before predicting, so SB3 raises on the shape
* ``backup-flipped-byte``: one byte of the backed-up model flipped
* ``backup-truncated``: the backed-up model cut to half its size
* ``backup-missing-file``: the backed-up config deleted

Code defects are left as working-tree changes to tracked files (``git diff``
shows them); the others change untracked artifacts. Every write is atomic.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from runbook_lib.base.errors import InvalidInputError, WorkspaceError
from runbook_lib.base.fsutil import atomic_write_bytes, atomic_write_text

CONFIG = "configs/sac_config.json"
AGENT = "src/rl/sac/sac_agent.py"
RELEASE_MODEL = "models/sac_v2.zip"
STABLE_MODEL = "models/sac_v1.zip"
_ACT_RETURN = "        return np.clip(np.asarray(action, dtype=np.float32), -1.0, 1.0)\n"
_ACT_PREDICT = "self.model.predict(observation, deterministic=True)"


@dataclass(frozen=True)
class Symptom:
    """How the workspace's own pytest reports a defect: the failing test and words in its output."""

    test: str
    message: str


def _file(workspace: Path, relative: str) -> Path:
    path = workspace / relative
    if not path.is_file():
        raise WorkspaceError(
            f"{path} is missing: the defect needs it",
            hint="inject defects into a freshly created sandbox",
        )
    return path


def _replace_once(workspace: Path, relative: str, old: str, new: str) -> None:
    path = _file(workspace, relative)
    text = path.read_text(encoding="utf-8")
    if text.count(old) != 1:
        raise WorkspaceError(
            f"{relative} does not hold the code this defect changes (exactly once)",
            hint="code defects apply to the v2.0 release as created; use a fresh sandbox",
        )
    atomic_write_text(path, text.replace(old, new))


def _latest_backup(workspace: Path) -> Path:
    found = sorted(p.parent for p in (workspace / "backups").glob("*/SHA256SUMS"))
    if not found:
        raise WorkspaceError(f"no backups/<timestamp>/SHA256SUMS under {workspace}")
    return found[-1]


def _config_corrupt(workspace: Path) -> str:
    path = _file(workspace, CONFIG)
    data = path.read_bytes()
    cut = len(data) * 3 // 5  # any strict prefix of a JSON object is invalid JSON
    atomic_write_bytes(path, data[:cut])
    return f"cut {CONFIG} from {len(data)} to {cut} bytes"


def _config_out_of_range(workspace: Path) -> str:
    path = _file(workspace, CONFIG)
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
        config["env"]["transaction_cost"] = 1.5
    except (ValueError, KeyError, TypeError) as err:
        raise WorkspaceError(f"{CONFIG} is not the release's config: {err}") from err
    atomic_write_text(path, json.dumps(config, indent=2) + "\n")
    return f"set env.transaction_cost = 1.5 in {CONFIG} (the schema allows 0..0.05)"


def _model_obs_mismatch(workspace: Path) -> str:
    stable = _file(workspace, STABLE_MODEL).read_bytes()
    atomic_write_bytes(_file(workspace, RELEASE_MODEL), stable)
    return f"replaced {RELEASE_MODEL} with {STABLE_MODEL}, trained on release 1.0's observations"


def _code_nan_action(workspace: Path) -> str:
    standardized = (
        "        action = np.asarray(action, dtype=np.float32)\n"
        "        action = (action - action.mean()) / action.std()  # standardize the output\n"
        "        return np.clip(action, -1.0, 1.0)\n"
    )
    _replace_once(workspace, AGENT, _ACT_RETURN, standardized)
    return f"{AGENT}: SacAgent.act divides each action by its own std (0): NaN actions"


def _code_predict_error(workspace: Path) -> str:
    sliced = "self.model.predict(observation[:-1], deterministic=True)"
    _replace_once(workspace, AGENT, _ACT_PREDICT, sliced)
    return f"{AGENT}: SacAgent.act drops the last observation value: predict raises"


def _backup_flipped_byte(workspace: Path) -> str:
    backup = _latest_backup(workspace)
    path = _file(backup, STABLE_MODEL)
    data = bytearray(path.read_bytes())
    offset = len(data) // 2
    data[offset] ^= 0x01
    atomic_write_bytes(path, bytes(data))
    return f"flipped bit 0 of byte {offset} in {path.relative_to(workspace)}"


def _backup_truncated(workspace: Path) -> str:
    backup = _latest_backup(workspace)
    path = _file(backup, STABLE_MODEL)
    data = path.read_bytes()
    atomic_write_bytes(path, data[: len(data) // 2])
    return f"truncated {path.relative_to(workspace)} from {len(data)} to {len(data) // 2} bytes"


def _backup_missing_file(workspace: Path) -> str:
    backup = _latest_backup(workspace)
    path = _file(backup, CONFIG)
    path.unlink()
    return f"deleted {path.relative_to(workspace)}"


@dataclass(frozen=True)
class _Defect:
    description: str
    symptom: Symptom
    inject: Callable[[Path], str]


_CONFIG_TEST = "tests/rl/sac/test_sac_config.py::test_release_config_is_valid"
_MODEL_TEST = "tests/rl/sac/test_sac_models.py::test_model_matches_env_spaces"
_AGENT_TEST = "tests/rl/sac/test_sac_agent.py::test_agent_actions_are_finite_and_bounded"
_BACKUP_TEST = "tests/rl/sac/test_sac_backup.py::test_backup_matches_sha256sums"

_CATALOG: dict[str, _Defect] = {
    "config-corrupt": _Defect(
        "configs/sac_config.json is cut off mid-file: not valid JSON",
        Symptom(_CONFIG_TEST, "invalid JSON"),
        _config_corrupt,
    ),
    "config-out-of-range": _Defect(
        "configs/sac_config.json sets env.transaction_cost to 1.5 (the schema allows 0..0.05)",
        Symptom(_CONFIG_TEST, "key 'env.transaction_cost' = 1.5 is out of range"),
        _config_out_of_range,
    ),
    "model-obs-mismatch": _Defect(
        "models/sac_v2.zip is a model trained on release 1.0's 17-value observations; "
        "the v2.0 env gives 20",
        Symptom(_MODEL_TEST, "does not match the env's"),
        _model_obs_mismatch,
    ),
    "code-nan-action": _Defect(
        "a regression in src/rl/sac/sac_agent.py makes every action NaN",
        Symptom(_AGENT_TEST, "non-finite actions"),
        _code_nan_action,
    ),
    "code-predict-error": _Defect(
        "a regression in src/rl/sac/sac_agent.py makes predict raise (observation shape)",
        Symptom(_AGENT_TEST, "Unexpected observation shape"),
        _code_predict_error,
    ),
    "backup-flipped-byte": _Defect(
        "one byte of the backed-up models/sac_v1.zip is flipped",
        Symptom(_BACKUP_TEST, "models/sac_v1.zip: FAILED (checksum mismatch)"),
        _backup_flipped_byte,
    ),
    "backup-truncated": _Defect(
        "the backed-up models/sac_v1.zip is cut to half its size",
        Symptom(_BACKUP_TEST, "models/sac_v1.zip: FAILED (checksum mismatch)"),
        _backup_truncated,
    ),
    "backup-missing-file": _Defect(
        "the backed-up configs/sac_config.json is deleted",
        Symptom(_BACKUP_TEST, "configs/sac_config.json: FAILED open or read (missing)"),
        _backup_missing_file,
    ),
}

DEFECTS: dict[str, str] = {name: defect.description for name, defect in _CATALOG.items()}
"""Every defect's name and what it does."""

SYMPTOMS: dict[str, Symptom] = {name: defect.symptom for name, defect in _CATALOG.items()}
"""Every defect's failing workspace test and the words its failure shows."""


def inject_defect(workspace: Path, name: str) -> str:
    """Inject the defect ``name`` into the sandbox at ``workspace``.

    Args:
        workspace: Root of a sandbox made by ``runbook sandbox create``.
        name: One of :data:`DEFECTS`.

    Returns:
        What was changed, in one line.

    Raises:
        InvalidInputError: ``name`` is unknown (the message lists the names) or
            ``workspace`` is not a directory.
        WorkspaceError: the workspace lacks what the defect changes.
    """
    defect = _CATALOG.get(name)
    if defect is None:
        raise InvalidInputError(
            f"unknown defect {name!r}", hint=f"choose one of: {', '.join(_CATALOG)}"
        )
    if not workspace.is_dir():
        raise InvalidInputError(f"{workspace} is not a directory", hint="give a sandbox workspace")
    return f"{name}: {defect.inject(workspace)}"
