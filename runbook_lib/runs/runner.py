"""Execute a runbook notebook headless with papermill, into the incident's archive.

Each run writes ``runs/<NN>-<name>.ipynb`` and an offline HTML copy in the
incident directory. Measured with papermill 2.7 / nbclient 0.11, and handled
here:

* A dead kernel (``DeadKernelError``) or a cell timeout (``CellTimeoutError``)
  leaves an output notebook whose metadata reads as success; the runner marks
  it failed itself, naming the cell and the error.
* ``interrupt_on_timeout`` does not stop a cell that ignores SIGINT, so a
  whole-run timeout kills the kernel by its pid.
* The default graceful kernel shutdown stalls about 3 s in 10-20% of runs;
  ``shutdown_kernel="immediate"`` avoids it (notebooks flush their own files).
* ``kernel_name="python3"`` from the project's interpreter resolves to
  ipykernel's built-in spec: no NoSuchKernel on a fresh machine.
* The kernel talks over the ``ipc`` transport with sockets in a private
  temporary directory, so no TCP port is open to other local users.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import psutil

from runbook_lib.base.errors import InvalidInputError
from runbook_lib.base.fsutil import atomic_write_text
from runbook_lib.runs.redact import Redaction, redacting
from runbook_lib.target.redaction_digest import RedactedDigest

DEFAULT_CELL_TIMEOUT = 300.0
DEFAULT_RUN_TIMEOUT = 1800.0


@dataclass(frozen=True)
class RunResult:
    """The outcome of one notebook run."""

    notebook: str
    output: str
    html: str | None
    status: str
    error: dict[str, Any] | None
    duration_s: float
    parameters: dict[str, Any]
    findings: tuple[str, ...] = ()
    redactions: tuple[RedactedDigest, ...] = ()

    @property
    def ok(self) -> bool:
        """True when every cell ran without error."""
        return self.status == "ok"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


def next_run_path(runs_dir: Path, notebook: Path) -> Path:
    """``runs/<NN>-<stem>.ipynb`` with NN one above the highest run so far."""
    numbers = [int(p.name[:2]) for p in runs_dir.glob("[0-9][0-9]-*.ipynb")]
    return runs_dir / f"{max(numbers, default=0) + 1:02d}-{notebook.stem}.ipynb"


def ipc_manager_class(socket_dir: Path) -> type:
    """A kernel manager class whose sockets live in ``socket_dir`` (ipc transport)."""
    from jupyter_client.manager import AsyncKernelManager
    from traitlets import CaselessStrEnum, Type, Unicode

    from runbook_lib.runs.kernelclient import ready_client_class

    class IpcKernelManager(AsyncKernelManager):
        """A kernel manager whose sockets are files in a private directory.

        Its clients are ready without jupyter_client's fixed 0.2 s wait (see
        :mod:`runbook_lib.runs.kernelclient`).
        """

        transport = CaselessStrEnum(["tcp", "ipc"], default_value="ipc", config=True)
        ip = Unicode(str(socket_dir / "kernel"), config=True)
        client_factory = Type(ready_client_class(), config=True)

    return IpcKernelManager


def _kernel_pids(spared: Callable[[], set[int]] | None = None) -> list[int]:
    me = psutil.Process()
    keep = spared() if spared is not None else set()
    pids = []
    for child in me.children(recursive=True):
        with contextlib.suppress(psutil.Error):
            if child.pid not in keep and any("ipykernel" in p for p in child.cmdline()):
                pids.append(child.pid)
    return pids


def shutdown_now(km: Any) -> None:
    """Kill a kernel we own at once (no graceful-shutdown stall), removing its files."""
    import asyncio

    with contextlib.suppress(Exception):  # already dead (a deadline killed it), or never up
        asyncio.run(km.shutdown_kernel(now=True))


@contextlib.contextmanager
def _run_deadline(
    seconds: float, spared: Callable[[], set[int]] | None = None
) -> Iterator[threading.Event]:
    """Kill the kernel when the whole run outlives ``seconds``; yields a 'fired' flag."""
    fired = threading.Event()
    done = threading.Event()

    def watch() -> None:
        if not done.wait(seconds):
            fired.set()
            for pid in _kernel_pids(spared):
                with contextlib.suppress(psutil.Error):
                    psutil.Process(pid).kill()

    watcher = threading.Thread(target=watch, name="runbook-run-deadline", daemon=True)
    watcher.start()
    try:
        yield fired
    finally:
        done.set()
        watcher.join()


def _error_of(exc: BaseException, fired: bool, timeouts: tuple[float, float]) -> dict[str, Any]:
    name = type(exc).__name__
    cell_timeout, run_timeout = timeouts
    if fired:
        return {
            "ename": "RunTimeout",
            "evalue": f"the run exceeded {run_timeout:.0f} s; the kernel was killed",
            "cell": None,
        }
    if getattr(exc, "ename", None) == "KeyboardInterrupt":
        # Only a cell timeout interrupts the kernel (interrupt_on_timeout); say so.
        return {
            "ename": "CellTimeout",
            "evalue": f"the cell ran longer than {cell_timeout:g} s and was interrupted",
            "cell": getattr(exc, "exec_count", None),
        }
    error: dict[str, Any] = {
        "ename": getattr(exc, "ename", name),
        "evalue": str(getattr(exc, "evalue", exc)).strip()[:2000],
        "cell": getattr(exc, "exec_count", None),
    }
    return error


def _failed_cell(nb: Any) -> dict[str, Any] | None:
    for index, cell in enumerate(nb.cells):
        if cell.get("cell_type") != "code":
            continue
        pm = cell.get("metadata", {}).get("papermill", {})
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        if errors or pm.get("exception") or pm.get("status") == "running":
            first = errors[0] if errors else {}
            return {
                "index": index,
                "source": "".join(cell.get("source", ""))[:500],
                "ename": first.get("ename"),
                "evalue": first.get("evalue"),
            }
    return None


def mark_run(
    output: Path, status: str, error: dict[str, Any] | None, redaction: Redaction | None = None
) -> dict[str, Any] | None:
    """Record the run's status in the output notebook's metadata (atomically).

    Returns:
        The error, completed with the failing cell's index and source.
    """
    import nbformat

    nb = nbformat.read(output, as_version=4)
    cell = _failed_cell(nb) if status != "ok" else None
    if error is not None and cell is not None:
        error = {**error, "cell": cell}
    nb.metadata["runbook"] = {"status": status, "error": error}
    if "output_path" in nb.metadata.get("papermill", {}):
        nb.metadata["papermill"]["output_path"] = str(output)  # without the redacting prefix
    if status != "ok":
        nb.metadata.setdefault("papermill", {})["exception"] = True
    text = nbformat.writes(nb)
    atomic_write_text(output, redaction.apply(text) if redaction else text)
    return error


# One exporter per process: its templates compile once (about 0.15 s a copy saved);
# its output is the same byte for byte as a new exporter's. One export at a time.
_EXPORT_LOCK = threading.Lock()


@functools.cache
def _exporter() -> Any:
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(template_name="lab", embed_images=True)
    for trait in ("mathjax_url", "require_js_url", "jquery_url", "widget_renderer_url"):
        if exporter.has_trait(trait):
            setattr(exporter, trait, "")
    return exporter


def _to_html(node: Any) -> str:
    with _EXPORT_LOCK:
        body, _ = _exporter().from_notebook_node(node)
    return str(body)


def warm_html_export() -> None:
    """Compile the HTML templates now (a chain does it while its first kernel boots).

    The notebook exported holds what a run's copy holds (a Markdown table, a
    printed line, an HTML table), so their renderers are loaded too.
    """
    from nbformat import v4

    html = {"text/html": "<table><tr><td>1</td></tr></table>", "text/plain": "1"}
    outputs = [
        v4.new_output("stream", name="stdout", text="1\n"),
        v4.new_output("display_data", data=html),
    ]
    cells = [v4.new_markdown_cell("## 1\n\n| | |\n|---|---|\n| **1** | 1 |\n")]
    _to_html(v4.new_notebook(cells=[*cells, v4.new_code_cell("print(1)", outputs=outputs)]))


def export_html(output: Path, redaction: Redaction | None = None) -> Path:
    """An HTML copy that reads offline: images inline, no remote script needed."""
    import nbformat

    body = _strip_remote_scripts(_to_html(nbformat.read(output, as_version=4)))
    if redaction is not None:
        body = redaction.apply(body)
    html = output.with_suffix(".html")
    atomic_write_text(html, body)
    return html


def _strip_remote_scripts(body: str) -> str:
    import re

    return re.sub(r"<script[^>]+src=[\"']https?://[^\"']*[\"'][^>]*>\s*</script>", "", body)


def execute(
    notebook: Path,
    output: Path,
    parameters: Mapping[str, Any],
    *,
    cwd: Path,
    cell_timeout: float = DEFAULT_CELL_TIMEOUT,
    run_timeout: float = DEFAULT_RUN_TIMEOUT,
    progress: bool = True,
    secrets: Mapping[str, str] | None = None,
    kernel: Any = None,
    spared: Callable[[], set[int]] | None = None,
) -> RunResult:
    """Run ``notebook`` with papermill into ``output``; never raise for a failed cell.

    Every save of the output (and the HTML copy) is redacted of ``secrets``
    (name: value) as it is written; the result's findings name those masked.
    ``kernel``: a kernel manager with its kernel already started (see
    :mod:`runbook_lib.runs.kernels`); this run uses it and shuts it down.
    ``spared``: pids a run timeout must not kill (a kernel started for the next run).

    Raises:
        InvalidInputError: the notebook does not exist.
    """
    import papermill

    if not notebook.is_file():
        raise InvalidInputError(f"notebook {notebook} does not exist")
    started = time.perf_counter()
    output.parent.mkdir(parents=True, exist_ok=True)
    error: dict[str, Any] | None = None
    with (
        tempfile.TemporaryDirectory(prefix="runbook-kernel-") as sockets,
        redacting(output, secrets or {}) as (papermill_output, redaction),
    ):
        os.chmod(sockets, 0o700)
        with _run_deadline(run_timeout, spared) as fired:
            try:
                papermill.execute_notebook(
                    str(notebook),
                    papermill_output,
                    parameters=dict(parameters),
                    kernel_name="python3",
                    progress_bar=progress,
                    cwd=str(cwd),
                    execution_timeout=cell_timeout,
                    start_timeout=60,
                    shutdown_kernel="immediate",
                    interrupt_on_timeout=True,
                    **_kernel_arguments(kernel, Path(sockets)),
                )
            except Exception as exc:  # every failure is recorded in the output, none raised
                error = _error_of(exc, fired.is_set(), (cell_timeout, run_timeout))
            finally:
                stopping = _stop_in_background(kernel) if kernel is not None else None
        try:
            status = "ok" if error is None else "failed"
            if output.is_file():
                error = mark_run(output, status, error, redaction)
            else:
                _write_stub(notebook, output, error)
            html = str(export_html(output, redaction)) if output.is_file() else None
        finally:
            if stopping is not None:
                stopping.join()  # the run ends with its kernel gone
    return RunResult(
        notebook=notebook.name,
        output=str(output),
        html=html,
        status=status,
        error=error,
        duration_s=time.perf_counter() - started,
        parameters=dict(parameters),
        findings=tuple(redaction.finding()),
        redactions=redaction.digests(),
    )


def _stop_in_background(kernel: Any) -> threading.Thread:
    """Kill a kernel handed to the run while its copy is marked and exported (join it).

    The kill is at once; the wait for the process to be reaped polls every 0.1 s.
    """
    stopping = threading.Thread(target=shutdown_now, args=(kernel,), name="runbook-kernel-stop")
    stopping.start()
    return stopping


def _kernel_arguments(kernel: Any, sockets: Path) -> dict[str, Any]:
    """Papermill's kernel arguments: a kernel started ahead (``km``), else a manager class."""
    if kernel is not None:
        return {"km": kernel}
    return {"kernel_manager_class": ipc_manager_class(sockets)}


def _write_stub(notebook: Path, output: Path, error: dict[str, Any] | None) -> None:
    """Papermill failed before writing anything: keep the input, marked failed."""
    import nbformat

    nb = nbformat.read(notebook, as_version=4)
    nb.metadata["runbook"] = {"status": "failed", "error": error}
    output.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(output, nbformat.writes(nb))


def main() -> None:
    """Child entry point used by tests: run one notebook and print the result as JSON."""
    notebook, output, params = Path(sys.argv[1]), Path(sys.argv[2]), json.loads(sys.argv[3])
    result = execute(notebook, output, params, cwd=output.parent, progress=False)
    print(json.dumps(result.to_dict()))


if __name__ == "__main__":
    main()
