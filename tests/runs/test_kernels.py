"""Kernels started ahead: each run still has a fresh kernel, and none is left behind."""

from __future__ import annotations

import json
import os
from pathlib import Path

import psutil
import pytest

from runbook_lib.runs.kernels import KernelSupply, notebook_imports
from runbook_lib.runs.runner import execute
from tests.runs.test_runner import make_notebook, status_of


def _kernels_alive() -> list[int]:
    return [
        p.pid
        for p in psutil.Process().children(recursive=True)
        if any("ipykernel" in part for part in p.cmdline())
    ]


def _output_text(output: Path) -> str:
    cells = json.loads(output.read_text(encoding="utf-8"))["cells"]
    return "".join("".join(o.get("text", "")) for c in cells for o in c.get("outputs", []))


def _run(supply: KernelSupply, notebook: Path, output: Path, cwd: Path) -> str:
    env = dict(os.environ)
    kernel = supply.take(env, cwd)
    supply.prepare(env, cwd)
    result = execute(
        notebook, output, {}, cwd=cwd, progress=False, kernel=kernel, spared=supply.pids
    )
    return result.status


def test_a_chain_uses_the_kernel_started_ahead_and_each_run_is_fresh(tmp_path: Path) -> None:
    first = make_notebook(tmp_path / "a.ipynb", ["import os\nleaked = 42\nprint(os.getpid())"])
    second = make_notebook(
        tmp_path / "b.ipynb",
        [
            "import os, sys\nprint(json_out := __import__('json').dumps("
            "{'pid': os.getpid(), 'leaked': 'leaked' in globals(), 'preloaded': 'numpy' in sys.modules}))"
        ],
    )
    supply = KernelSupply(preload=("numpy",))
    try:
        assert _run(supply, first, tmp_path / "out-a.ipynb", tmp_path) == "ok"
        spare_pids = supply.pids()
        assert len(spare_pids) == 1  # started while the first ran; at most one
        assert _run(supply, second, tmp_path / "out-b.ipynb", tmp_path) == "ok"
    finally:
        supply.close()
    seen = json.loads(_output_text(tmp_path / "out-b.ipynb").strip())
    assert seen["pid"] in spare_pids  # the second run used the kernel started ahead
    assert seen["leaked"] is False  # ...which is not the first run's kernel
    assert seen["preloaded"] is True
    assert status_of(tmp_path / "out-b.ipynb") == "ok"
    assert _kernels_alive() == []


def test_a_spare_started_with_another_environment_is_not_used(tmp_path: Path) -> None:
    supply = KernelSupply(preload=())
    try:
        supply.prepare({**os.environ, "RB_T": "old"}, tmp_path)
        old = supply.pids()
        env = {**os.environ, "RB_T": "new"}
        kernel = supply.take(env, tmp_path)
        assert kernel is None  # the rollback changed the environment: not this run's kernel
        assert not any(
            psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie" for pid in old
        )
    finally:
        supply.close()
    assert _kernels_alive() == []


def test_a_failed_run_on_a_kernel_started_ahead_still_leaves_its_notebook(tmp_path: Path) -> None:
    ok = make_notebook(tmp_path / "a.ipynb", ["print('fine')"])
    bad = make_notebook(tmp_path / "b.ipynb", ["raise RuntimeError('boom')"])
    supply = KernelSupply(preload=())
    try:
        assert _run(supply, ok, tmp_path / "out-a.ipynb", tmp_path) == "ok"
        assert _run(supply, bad, tmp_path / "out-b.ipynb", tmp_path) == "failed"
    finally:
        supply.close()
    assert status_of(tmp_path / "out-b.ipynb") == "failed"
    assert (tmp_path / "out-b.html").is_file()
    assert _kernels_alive() == []


def test_no_kernel_is_started_ahead_when_switched_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RUNBOOK_KERNELS_AHEAD", "0")
    supply = KernelSupply(preload=())
    try:
        supply.prepare(dict(os.environ), tmp_path)
        assert supply.pids() == set()
        assert supply.take(dict(os.environ), tmp_path) is None  # the run starts its own
    finally:
        supply.close()
    assert _kernels_alive() == []


def test_no_kernel_is_started_ahead_of_the_last_run(tmp_path: Path) -> None:
    supply = KernelSupply(preload=())
    try:
        supply.last_run()
        supply.prepare(dict(os.environ), tmp_path)  # what the last run's start does
        assert supply.pids() == set()
        assert _kernels_alive() == []
    finally:
        supply.close()


def test_a_notebooks_imports_are_its_top_level_import_statements(tmp_path: Path) -> None:
    notebook = make_notebook(
        tmp_path / "a.ipynb",
        ["%matplotlib inline\nimport colorsys\nfrom os import path as p\nx = 1", "import colorsys"],
    )
    assert notebook_imports(notebook) == ("import colorsys", "from os import path as p")
    broken = tmp_path / "broken.ipynb"
    broken.write_text("{not json", encoding="utf-8")
    assert notebook_imports(broken) == ()


def test_a_spare_imports_what_the_expected_notebook_imports_and_binds_nothing(
    tmp_path: Path,
) -> None:
    first = make_notebook(tmp_path / "a.ipynb", ["print('first')"])
    second = make_notebook(
        tmp_path / "b.ipynb",
        [
            "import sys\nprint(__import__('json').dumps({'imported': 'colorsys' in sys.modules, "
            "'bound': 'colorsys' in globals()}))",
            "import colorsys",
        ],
    )
    supply = KernelSupply(preload=())
    try:
        supply.expect([second])
        assert _run(supply, first, tmp_path / "out-a.ipynb", tmp_path) == "ok"
        assert _run(supply, second, tmp_path / "out-b.ipynb", tmp_path) == "ok"
    finally:
        supply.close()
    first_line = _output_text(tmp_path / "out-b.ipynb").strip().splitlines()[0]
    assert json.loads(first_line) == {"imported": True, "bound": False}
    assert _kernels_alive() == []
