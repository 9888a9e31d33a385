"""runbook_lib.runs.run: parameters checked before a kernel starts; every run archived, even failed."""

# mypy: disallow-untyped-calls=False
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from runbook_lib.base.errors import InvalidInputError, LockHeldError
from runbook_lib.base.fsutil import sha256_file
from runbook_lib.evidence import index
from runbook_lib.evidence.amend import ACTIVE_RUN_ENV, run_lock
from runbook_lib.evidence.chain import read_chain
from runbook_lib.evidence.seal import read_manifest, verify_incident
from runbook_lib.incident.ref import IncidentRef
from runbook_lib.incident.store import incident_dir, open_incident
from runbook_lib.rollback.operations import apply_rollback, plan_rollback
from runbook_lib.runs.parameters import (
    ParameterSpec,
    parameters_from_text,
    parse_value,
    read_parameters,
)
from runbook_lib.runs.run import run_notebook
from runbook_lib.target.gitutil import head_sha
from tests.runutil import cell_text, make_notebook, output_status


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return tmp_path / "archive"


@pytest.fixture
def incident_id(store: Path) -> str:
    return open_incident(store, "unified env regression", "high", "perf-regression").id


def test_read_parameters_parses_the_tagged_cell(tmp_path: Path) -> None:
    nb = make_notebook(
        tmp_path / "nb.ipynb",
        "print(1)",
        parameters="episodes: int = 3  # how many episodes\nlabel = 'x'\nimport os\n",
    )
    assert read_parameters(nb) == [
        ParameterSpec("episodes", "int", "3", "how many episodes"),
        ParameterSpec("label", None, "'x'", ""),
    ]


def test_values_take_the_declared_type(tmp_path: Path) -> None:
    nb = make_notebook(
        tmp_path / "nb.ipynb",
        parameters="episodes: int = 3\nlabel: str = ''\n"
        "ratio: float | None = None\nverbose: bool = False\nanything = 0\n",
    )
    values = parameters_from_text(
        nb,
        [
            ("episodes", "5"),
            ("label", "7"),
            ("ratio", "None"),
            ("verbose", "true"),
            ("anything", "2.5"),
        ],
    )
    assert values == {"episodes": 5, "label": "7", "ratio": None, "verbose": True, "anything": 2.5}
    assert parameters_from_text(nb, [("ratio", "0.25")]) == {"ratio": 0.25}
    assert [parse_value(v) for v in ("True", "None", "12", "1e-3", "v2.0")] == [
        True,
        None,
        12,
        0.001,
        "v2.0",
    ]


@pytest.mark.parametrize(
    ("pair", "message"),
    [
        (("episodes", "many"), "parameter 'episodes' takes int, got 'many'"),
        (("verbose", "maybe"), "parameter 'verbose' takes bool, got 'maybe'"),
        (("ratio", "half"), "parameter 'ratio' takes float | None, got 'half'"),
    ],
)
def test_a_value_that_does_not_fit_is_refused(
    tmp_path: Path, pair: tuple[str, str], message: str
) -> None:
    nb = make_notebook(tmp_path / "nb.ipynb")
    with pytest.raises(InvalidInputError, match=message):
        parameters_from_text(nb, [pair])


def test_unknown_parameter_is_refused_before_any_kernel_starts(
    tmp_path: Path, sandbox: Path, store: Path, incident_id: str
) -> None:
    nb = make_notebook(tmp_path / "nb.ipynb", "print('never')")
    with pytest.raises(InvalidInputError) as caught:
        parameters_from_text(nb, [("episode", "3")])
    message = str(caught.value)
    assert "notebook nb.ipynb has no parameter 'episode'" in message
    assert (
        "episodes: int = 3 (how many episodes to run)" in message
        and "verbose: bool = False" in message
    )
    with pytest.raises(InvalidInputError, match="has no parameter 'seeds'"):
        run_notebook(nb, incident_id, archive=store, target=sandbox, parameters={"seeds": [1, 2]})
    assert not (incident_dir(store, incident_id) / "runs").exists()


def test_a_notebook_without_parameters_cell_accepts_none(tmp_path: Path) -> None:
    nb = make_notebook(tmp_path / "nb.ipynb", parameters="x = 1")
    nb_json = json.loads(nb.read_text())
    nb_json["cells"][0]["metadata"] = {}
    nb.write_text(json.dumps(nb_json))
    with pytest.raises(
        InvalidInputError, match="it has no cell tagged 'parameters', so it accepts none"
    ):
        parameters_from_text(nb, [("x", "2")])


def test_missing_or_broken_notebooks_are_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="does not exist"):
        read_parameters(tmp_path / "absent.ipynb")
    (tmp_path / "bad.ipynb").write_text("{not json")
    with pytest.raises(InvalidInputError, match="is not a readable notebook"):
        read_parameters(tmp_path / "bad.ipynb")
    nb = make_notebook(tmp_path / "magic.ipynb", parameters="%matplotlib inline\nx = 1")
    with pytest.raises(InvalidInputError, match=r"parameters cell of .* is not plain Python"):
        read_parameters(nb)


def test_secret_looking_parameter_is_refused_before_the_run(
    tmp_path: Path, sandbox: Path, store: Path, incident_id: str
) -> None:
    nb = make_notebook(tmp_path / "nb.ipynb", "print(label)")
    with pytest.raises(
        InvalidInputError, match="the value of parameter 'label' looks like an AWS access key"
    ):
        run_notebook(
            nb,
            incident_id,
            archive=store,
            target=sandbox,
            parameters={"label": "AKIAIOSFODNN7EXAMPLE"},
        )
    assert not (incident_dir(store, incident_id) / "runs").exists()


def test_a_run_waits_for_the_incident_lock(
    tmp_path: Path, sandbox: Path, store: Path, incident_id: str
) -> None:
    nb = make_notebook(tmp_path / "nb.ipynb", "print(1)")
    with (
        run_lock(incident_dir(store, incident_id), 1),
        pytest.raises(LockHeldError, match="is busy"),
    ):
        run_notebook(
            nb, incident_id, archive=store, target=sandbox, lock_timeout=0.3, progress=False
        )
    assert not (incident_dir(store, incident_id) / "runs").exists()


ENV_CELL = """\
import os, json
print(json.dumps({k: os.environ.get(k) for k in ("USE_UNIFIED_ENV", "RL_ENV_TYPE", "RUNBOOK_INCIDENT",
                  "RUNBOOK_ACTIVE_RUN", "RUNBOOK_TARGET")}))
print("cwd", os.getcwd(), "episodes", episodes, "label", label)
"""


@pytest.mark.slow
def test_run_applies_the_rollback_env_and_is_archived(
    tmp_path: Path, fresh_sandbox: Path, store: Path, incident_id: str
) -> None:
    plan = plan_rollback(IncidentRef(fresh_sandbox, store, incident_id), "env-var")
    assert apply_rollback(IncidentRef(fresh_sandbox, store, incident_id), plan.sha256).ok
    nb = make_notebook(tmp_path / "02_check.ipynb", ENV_CELL)
    assert "USE_UNIFIED_ENV" not in os.environ
    outcome = run_notebook(
        nb,
        incident_id,
        archive=store,
        target=fresh_sandbox,
        parameters={"episodes": 5, "label": "after rollback"},
        progress=False,
    )
    assert outcome.ok, outcome.error
    assert "USE_UNIFIED_ENV" not in os.environ  # the runner's own environment is restored
    directory = incident_dir(store, incident_id)
    text = cell_text(Path(outcome.output))
    seen = json.loads(text.splitlines()[0])
    assert seen == {
        "USE_UNIFIED_ENV": "0",
        "RL_ENV_TYPE": "legacy",
        "RUNBOOK_INCIDENT": incident_id,
        "RUNBOOK_ACTIVE_RUN": incident_id,
        "RUNBOOK_TARGET": str(fresh_sandbox.resolve()),
    }
    assert f"cwd {directory} episodes 5 label after rollback" in text
    assert Path(outcome.output) == directory / "runs" / "01-02_check.ipynb"
    assert Path(outcome.html or "").is_file()

    [record] = read_chain(directory)
    assert (
        record["output"] == "runs/01-02_check.ipynb" and record["html"] == "runs/01-02_check.html"
    )
    assert record["output_sha256"] == sha256_file(directory / record["output"])
    assert record["parameters"] == {"episodes": 5, "label": "after rollback"}
    assert record["git_before"] == record["git_after"] == head_sha(fresh_sandbox)
    assert record["status"] == "ok" and record["duration_s"] > 0 and record["started_at"]
    rows = index.query(
        store, "SELECT seq, status, record_hash FROM runs WHERE incident = ?", (incident_id,)
    )
    assert rows == [{"seq": 1, "status": "ok", "record_hash": record["hash"]}]
    manifest = read_manifest(directory) or {}
    assert manifest["parameters"] == record["parameters"] and manifest["target"] == str(
        fresh_sandbox.resolve()
    )
    assert (
        manifest["git_before"] == record["git_before"]
        and manifest["environment"]["sb3_system_info"]
    )
    assert verify_incident(store, directory).ok


@pytest.mark.slow
def test_a_killed_kernel_leaves_a_failed_copy_and_its_record(
    tmp_path: Path, sandbox: Path, store: Path, incident_id: str
) -> None:
    nb = make_notebook(
        tmp_path / "dies.ipynb", "print('before')", "import os; os._exit(1)", "print('never')"
    )
    outcome = run_notebook(nb, incident_id, archive=store, target=sandbox, progress=False)
    assert outcome.status == "failed" and outcome.error is not None
    assert outcome.error["ename"] == "DeadKernelError"
    assert output_status(Path(outcome.output)) == "failed"
    directory = incident_dir(store, incident_id)
    [record] = read_chain(directory)
    assert record["status"] == "failed" and record["error"]["ename"] == "DeadKernelError"
    assert verify_incident(store, directory).ok


@pytest.mark.slow
def test_a_cell_hanging_past_its_timeout_fails_the_run(
    tmp_path: Path, sandbox: Path, store: Path, incident_id: str
) -> None:
    nb = make_notebook(tmp_path / "hangs.ipynb", "import time; time.sleep(120)")
    outcome = run_notebook(
        nb, incident_id, archive=store, target=sandbox, cell_timeout=2, progress=False
    )
    assert outcome.status == "failed" and outcome.duration_s < 60
    assert outcome.error is not None and outcome.error["ename"] == "CellTimeout"
    assert "the cell ran longer than 2 s" in outcome.error["evalue"]
    assert outcome.error["cell"]["source"] == "import time; time.sleep(120)"
    assert output_status(Path(outcome.output)) == "failed"
    assert read_chain(incident_dir(store, incident_id))[0]["status"] == "failed"


@pytest.mark.slow
def test_a_reseal_keeps_earlier_tampering_visible(
    tmp_path: Path, sandbox: Path, store: Path, incident_id: str
) -> None:
    # The notebook rewrites a working file on every run: legitimate, never a finding.
    nb = make_notebook(
        tmp_path / "nb.ipynb", "import random; open('work.txt', 'w').write(str(random.random()))"
    )
    first = run_notebook(nb, incident_id, archive=store, target=sandbox, progress=False)
    directory = incident_dir(store, incident_id)
    html = directory / "runs" / "01-nb.html"
    html.write_bytes(html.read_bytes().replace(b"<html", b"<HTML", 1))
    second = run_notebook(nb, incident_id, archive=store, target=sandbox, progress=False)
    assert first.suspicious == []
    assert second.suspicious == [
        "modified: runs/01-nb.html",
        "modified: runs/01-nb.html (differs from run 1's chain record)",
    ]
    problems = verify_incident(store, directory).problems
    assert "modified: runs/01-nb.html (differs from run 1's chain record)" in problems
    assert any(p.startswith("earlier: modified: runs/01-nb.html (found ") for p in problems)
    assert not any("work.txt" in p for p in problems)


def test_a_notebook_cannot_start_a_run_of_its_own_incident(
    tmp_path: Path, sandbox: Path, store: Path, incident_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ACTIVE_RUN_ENV, incident_id)  # as in a kernel that runbook run started
    nb = make_notebook(tmp_path / "nb.ipynb", "print(1)")
    with pytest.raises(InvalidInputError, match=r"already runs for .* cannot start another run"):
        run_notebook(nb, incident_id, archive=store, target=sandbox, lock_timeout=0.3)
