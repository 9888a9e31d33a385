"""Parity runs the target's envs in env workers: runbook's process never imports the target."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from runbook_lib.base.errors import WorkspaceError
from runbook_lib.parity.lockstep import ParitySpec
from runbook_lib.parity.remote import probe_envs
from tests.target.toytarget import TOY_PACKAGE, write_toy_target

_SCRIPT = """
import json, sys
from pathlib import Path
from runbook_lib.incident.store import open_incident
from runbook_lib.parity.run import run_incident_parity
from runbook_lib.target.manifest import load_manifest
root, archive = Path(sys.argv[1]), Path(sys.argv[2])
incident = open_incident(archive, "remote test", "high", "result-difference")
outcome = run_incident_parity(load_manifest(root), archive, incident.id, episodes=2)
print(json.dumps({"verdict": outcome.report.verdict, "envs": outcome.envs,
                  "target_modules": sorted(m for m in sys.modules if m.split(".")[0] == "src")}))
"""


def test_parity_never_imports_the_targets_code(sandbox: Path, tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT, str(sandbox), str(tmp_path / "a")],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["target_modules"] == []
    assert found["verdict"] == "PASS"
    assert found["envs"]["legacy"]["class"] == "GeneralSimEnv"
    assert found["envs"]["candidate"]["unwrapped"].endswith(".UnifiedSimEnv")


def toy_spec(root: Path, candidate: str = "unified") -> ParitySpec:
    return ParitySpec(
        root=str(root), factory=f"{TOY_PACKAGE}:make", seeds=(0,), candidate=candidate
    )


def test_a_shared_class_behind_a_wrapper_is_told_apart_by_its_fingerprint(tmp_path: Path) -> None:
    root = write_toy_target(tmp_path / "toy")
    with pytest.raises(WorkspaceError, match="builds ToyEnv for both env types"):
        probe_envs(toy_spec(root), None)  # same class, same trajectory: one env twice
    assert TOY_PACKAGE not in sys.modules


def test_a_failing_factory_is_one_line_naming_the_role(tmp_path: Path) -> None:
    root = write_toy_target(tmp_path / "toy")
    spec = ParitySpec(root=str(root), factory=f"{TOY_PACKAGE}:missing", seeds=(0,))
    with pytest.raises(WorkspaceError, match=r"building the legacy env \(env_type='legacy'\)"):
        probe_envs(spec, None)


def test_dict_lockstep_names_the_first_diverging_leaf(tmp_path: Path) -> None:
    import numpy as np

    from runbook_lib.parity.lockstep import first_leaf_difference, run_episode
    from runbook_lib.parity.remote import WorkerEnv
    from runbook_lib.target.worker.client import EnvWorker, build_env

    root = write_toy_target(tmp_path / "toy")
    spec = toy_spec(root)
    with EnvWorker(sys.executable, root) as worker:

        def make(handle: str, shift: float) -> WorkerEnv:
            return WorkerEnv(
                build_env(worker, spec.factory, "legacy", handle=handle, kwargs={"shift": shift})
            )

        def act(obs: object, mask: object) -> object:
            return np.array([1, 1])

        same = run_episode((make("a", 0.0), make("b", 0.0)), 0, 5, spec, act)
        shifted = run_episode((make("c", 0.0), make("d", 0.5)), 0, 5, spec, act)
    assert same.agreeing_steps == same.length == 5 and same.first_divergence is None
    assert shifted.agreeing_steps == 0
    assert shifted.first_divergence is not None
    assert shifted.first_divergence["field"] == "obs['holding_time']"
    assert shifted.first_divergence["step"] == 1
    left = {"a": np.zeros(2), "b": (np.int64(1), np.ones(3, np.float32))}
    right = {"a": np.zeros(2), "b": (np.int64(1), np.ones(3, np.float64))}
    assert first_leaf_difference(left, right) == "['b'][1]"  # a dtype difference counts
    assert first_leaf_difference(left, {"a": np.zeros(2)}) == "<structure>"
