"""The child side of the models check: load models with SB3 in the target's own process.

``python -m runbook_lib.target.probes.modelprobe --out FILE --algo SAC --model models/a.zip ...
[--env MODULE:FUNC [--env-config configs/c.json [--deployed-key model_path]]]``

runs with the target's root as working directory. It loads every ``--model``
with the stable-baselines3 class ``--algo``, builds the env the manifest names
(called with the parsed ``--env-config``, or with no argument), compares each
model's observation and action spaces with the env's, reads which model the
config deploys, and writes one JSON object to ``--out``.
:mod:`runbook_lib.verify.checks.models` turns it into a check result. A failure of the
target's code is a finding, written to the JSON, never a crash of the probe.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

SPACES = ("observation_space", "action_space")


def _error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:1000]


def _shape(space: Any) -> list[int] | None:
    shape = getattr(space, "shape", None)
    return [int(n) for n in shape] if shape is not None else None


def _describe(holder: Any) -> dict[str, Any]:
    return {
        name: {"repr": repr(getattr(holder, name)), "shape": _shape(getattr(holder, name))}
        for name in SPACES
    }


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


def build_env(
    spec: str | None, config: Any, config_error: str | None
) -> tuple[Any, dict[str, Any]]:
    """Build the manifest's env; return it (or ``None``) and what happened, JSON-ready."""
    if spec is None:
        return None, {"built": False, "error": None, "skipped": "no [models] env in runbook.toml"}
    if config_error is not None:
        return None, {"built": False, "error": config_error}
    from runbook_lib.target.entrypoint import load_entry_point

    try:
        factory = load_entry_point(spec)
        env = factory(config) if config is not None else factory()
    except Exception as exc:  # the target's failure is the finding
        return None, {"built": False, "error": f"{spec} failed: {_error(exc)}"}
    return env, {"built": True, "error": None, "class": type(env).__name__, **_describe(env)}


def space_mismatches(model: Any, env: Any) -> list[str]:
    """How the model's spaces differ from the env's (empty when they match)."""
    return [
        f"model {name} {getattr(model, name)} does not match the env's {getattr(env, name)}"
        for name in SPACES
        if getattr(model, name) != getattr(env, name)
    ]


def probe_model(algo: Any, path: str, env: Any) -> dict[str, Any]:
    """Load one model and compare its spaces with the env's."""
    try:
        model = algo.load(path, device="cpu")
    except Exception as exc:  # a corrupt or foreign zip is the finding
        return {"loaded": False, "error": _error(exc), "fits_env": None, "mismatches": []}
    entry: dict[str, Any] = {"loaded": True, "error": None, **_describe(model)}
    if env is None:
        return {**entry, "fits_env": None, "mismatches": []}
    mismatches = space_mismatches(model, env)
    return {**entry, "fits_env": not mismatches, "mismatches": mismatches}


def probe(args: argparse.Namespace) -> dict[str, Any]:
    """Everything the parent needs, JSON-ready."""
    import stable_baselines3
    import torch

    torch.set_num_threads(1)  # loading is all this does: threads only cost start-up time
    algo = getattr(stable_baselines3, args.algo)
    config, config_error = load_config(args.env_config)
    env, env_report = build_env(args.env, config, config_error)
    deployed, deployed_error = deployed_model(config, args.deployed_key)
    models = {path: probe_model(algo, path, env) for path in args.model}
    return {
        "algo": args.algo,
        "env": env_report,
        "deployed": deployed,
        "deployed_error": deployed_error,
        "models": models,
    }


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--algo", required=True)
    parser.add_argument("--model", action="append", default=[])
    parser.add_argument("--env", default=None)
    parser.add_argument("--env-config", default=None)
    parser.add_argument("--deployed-key", default=None)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Probe and write the JSON object to ``--out``."""
    args = _parser().parse_args(argv)
    sys.path.insert(0, str(Path.cwd()))
    result = probe(args)
    args.out.write_text(json.dumps(result, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
