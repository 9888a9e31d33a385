"""The papermill runner: failures always leave an executed copy marked failed."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from runbook_lib.runs.runner import execute, next_run_path


def make_notebook(path: Path, cells: list[str]) -> Path:
    params = new_code_cell("x: int = 1  # a parameter", metadata={"tags": ["parameters"]})
    nb = new_notebook(cells=[params, *[new_code_cell(source) for source in cells]])
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, path)
    return path


def status_of(output: Path) -> str:
    return str(nbformat.read(output, as_version=4).metadata["runbook"]["status"])


@pytest.mark.slow
def test_successful_run_writes_notebook_and_offline_html(tmp_path: Path) -> None:
    nb = make_notebook(
        tmp_path / "ok.ipynb",
        [
            "import os; print('x is', x, 'in', os.getcwd())",
            "import matplotlib; matplotlib.use('Agg')\nimport matplotlib.pyplot as plt\nplt.plot([1, 2]); plt.show()",
        ],
    )
    work = tmp_path / "incident"
    work.mkdir()
    result = execute(nb, work / "runs" / "01-ok.ipynb", {"x": 7}, cwd=work, progress=False)
    assert result.ok, result.error
    out = nbformat.read(result.output, as_version=4)
    text = "".join(o.get("text", "") for c in out.cells for o in c.get("outputs", []))
    assert f"x is 7 in {work}" in text
    html = Path(result.html or "").read_text()
    assert "data:image/png;base64" in html
    assert not re.search(r"<script[^>]+src=[\"']https?://", html)


@pytest.mark.slow
def test_cell_error_is_marked_with_cell_and_source(tmp_path: Path) -> None:
    nb = make_notebook(
        tmp_path / "err.ipynb", ["print('a')", "raise ValueError('boom')", "print('never')"]
    )
    result = execute(nb, tmp_path / "out.ipynb", {}, cwd=tmp_path, progress=False)
    assert result.status == "failed"
    assert result.error is not None
    assert result.error["cell"]["source"] == "raise ValueError('boom')"
    assert result.error["ename"] == "ValueError"
    assert status_of(tmp_path / "out.ipynb") == "failed"


@pytest.mark.slow
def test_dead_kernel_is_marked_failed(tmp_path: Path) -> None:
    nb = make_notebook(tmp_path / "dead.ipynb", ["import os; os._exit(1)", "print('never')"])
    result = execute(nb, tmp_path / "out.ipynb", {}, cwd=tmp_path, progress=False)
    assert result.status == "failed"
    assert result.error is not None and result.error["ename"] == "DeadKernelError"
    meta = nbformat.read(tmp_path / "out.ipynb", as_version=4).metadata
    assert meta["runbook"]["status"] == "failed" and meta["papermill"]["exception"] is True


@pytest.mark.slow
def test_cell_ignoring_sigint_is_stopped_by_the_run_timeout(tmp_path: Path) -> None:
    nb = make_notebook(
        tmp_path / "hang.ipynb",
        [
            "import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\ntime.sleep(120)",
        ],
    )
    result = execute(
        nb, tmp_path / "out.ipynb", {}, cwd=tmp_path, progress=False, cell_timeout=2, run_timeout=5
    )
    assert result.status == "failed"
    assert result.error is not None and result.error["ename"] == "RunTimeout"
    assert result.duration_s < 60
    assert status_of(tmp_path / "out.ipynb") == "failed"


def test_next_run_path_numbers_runs(tmp_path: Path) -> None:
    assert next_run_path(tmp_path, Path("02_rollback.ipynb")).name == "01-02_rollback.ipynb"
    (tmp_path / "01-00_triage.ipynb").write_text("{}")
    (tmp_path / "07-01_assessment.ipynb").write_text("{}")
    assert next_run_path(tmp_path, Path("02_rollback.ipynb")).name == "08-02_rollback.ipynb"
