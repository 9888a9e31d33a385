"""``runbook run`` in subprocesses: archived runs, one-line refusals, failed runs, concurrency."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from runbook_lib.evidence import index
from runbook_lib.evidence.chain import read_chain
from runbook_lib.incident.store import incident_dir, open_incident
from tests.runutil import cli, make_notebook, output_status, runbook_executable


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return tmp_path / "archive"


@pytest.fixture
def incident_id(store: Path) -> str:
    return open_incident(store, "unified env crashes", "critical", "crash").id


def one_line(proc: subprocess.CompletedProcess[str], code: int) -> str:
    assert proc.returncode == code, proc
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith("runbook: error: ")
    return proc.stderr


@pytest.mark.slow
def test_run_prints_the_record_and_finds_the_target_from_cwd(
    tmp_path: Path, sandbox: Path, store: Path, incident_id: str
) -> None:
    nb = make_notebook(
        tmp_path / "01_assess.ipynb", "print('episodes', episodes, 'verbose', verbose)"
    )
    proc = cli(
        "run",
        str(nb),
        "--incident",
        incident_id,
        "-p",
        "episodes",
        "4",
        "-p",
        "verbose",
        "True",
        "--archive",
        str(store),
        "--json",
        cwd=sandbox / "src",
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["status"] == "ok" and data["seq"] == 1 and data["ok"] is True
    assert data["parameters"] == {"episodes": 4, "verbose": True}
    assert data["output"] == str(incident_dir(store, incident_id) / "runs" / "01-01_assess.ipynb")
    assert (
        f"runbook: running 01_assess.ipynb for {incident_id}" in proc.stderr
    )  # progress on stderr
    assert "Executing" in proc.stderr


@pytest.mark.slow
def test_a_killed_kernel_exits_1_and_is_archived(
    tmp_path: Path, sandbox: Path, store: Path, incident_id: str
) -> None:
    nb = make_notebook(tmp_path / "dies.ipynb", "print('working')", "import os; os._exit(1)")
    proc = cli(
        "run", str(nb), "--incident", incident_id, "--target", str(sandbox), "--archive", str(store)
    )
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    message = proc.stderr.splitlines()[-1]  # after the progress lines
    assert message.startswith("runbook: error: ")
    assert "run 01 of dies.ipynb failed: DeadKernelError" in message
    assert "the executed copy is kept, marked failed" in message
    assert "run 01 of " in proc.stdout and ": failed" in proc.stdout
    directory = incident_dir(store, incident_id)
    assert output_status(directory / "runs" / "01-dies.ipynb") == "failed"
    assert read_chain(directory)[0]["status"] == "failed"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ["-p", "episode", "3"],
            "notebook nb.ipynb has no parameter 'episode' (it accepts: episodes: int = 3 "
            "(how many episodes to run); label: str = 'drill'",
        ),
        (["-p", "episodes", "three"], "parameter 'episodes' takes int, got 'three'"),
        (["-p", "api_token", "x"], "has no parameter 'api_token'"),
        (
            ["-p", "label", "ghp_" + "Ab12" * 9],
            "the value of parameter 'label' looks like a GitHub token; "
            "secrets never go into notebook parameters",
        ),
        (["--cell-timeout", "0"], "Invalid value for '--cell-timeout'"),
        (["-p", "episodes"], "Option '-p' requires 2 arguments"),
    ],
)
def test_refusals_are_one_line_and_start_no_kernel(
    tmp_path: Path, sandbox: Path, store: Path, incident_id: str, args: list[str], expected: str
) -> None:
    nb = make_notebook(tmp_path / "nb.ipynb", "print('never')")
    proc = cli(
        "run",
        str(nb),
        "--incident",
        incident_id,
        "--target",
        str(sandbox),
        "--archive",
        str(store),
        *args,
    )
    assert expected in one_line(proc, 2)
    assert "ghp_" not in proc.stderr
    assert not (incident_dir(store, incident_id) / "runs").exists()


def test_a_secret_named_parameter_points_to_the_environment(
    tmp_path: Path, sandbox: Path, store: Path, incident_id: str
) -> None:
    nb = make_notebook(
        tmp_path / "nb.ipynb", "print(1)", parameters="api_token: str = ''  # do not\n"
    )
    proc = cli(
        "run",
        str(nb),
        "--incident",
        incident_id,
        "--target",
        str(sandbox),
        "--archive",
        str(store),
        "-p",
        "api_token",
        "abc",
    )
    message = one_line(proc, 2)
    assert "parameter 'api_token' is named like a credential" in message
    assert (
        "list the variable's name under 'secrets' in runbook.toml" in message
        and "$TRADE_API_TOKEN" in message
    )


@pytest.mark.slow
def test_ten_concurrent_runs_lose_nothing(tmp_path: Path, sandbox: Path, store: Path) -> None:
    nb = make_notebook(tmp_path / "nb.ipynb", "print('label', label)")
    incidents = [open_incident(store, f"incident {n}", "low", "other").id for n in range(5)]
    procs = [
        subprocess.Popen(
            [
                runbook_executable(),
                "run",
                str(nb),
                "--incident",
                inc,
                "--target",
                str(sandbox),
                "--archive",
                str(store),
                "-p",
                "label",
                f"{inc}-{k}",
                "--json",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for inc in incidents
        for k in range(2)
    ]
    try:
        results = [(p.wait(timeout=120), *p.communicate()) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    assert all(code == 0 for code, _, _ in results), [err[-500:] for _, _, err in results]
    rows = index.query(store, "SELECT incident, seq FROM runs ORDER BY incident, seq")
    assert rows == [{"incident": inc, "seq": seq} for inc in sorted(incidents) for seq in (1, 2)]
    for inc in incidents:
        chain = read_chain(incident_dir(store, inc))
        assert [r["output"] for r in chain] == ["runs/01-nb.ipynb", "runs/02-nb.ipynb"]
        assert sorted(r["parameters"]["label"] for r in chain) == [f"{inc}-0", f"{inc}-1"]
    verify = cli("archive", "verify", "--archive", str(store), "--json", cwd=tmp_path)
    assert verify.returncode == 0, verify.stdout
    assert json.loads(verify.stdout)["consistent"] is True
