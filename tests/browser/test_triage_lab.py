"""00_triage.ipynb as a person uses it: JupyterLab in Debian's Chromium, widgets clicked.

The server runs on 127.0.0.1 with a random token and temporary Jupyter dirs;
screenshots land in outputs/screenshots/.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import PROJECT_ROOT

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = PROJECT_ROOT / "outputs" / "screenshots"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
LONG = 120_000  # ms: a cold kernel imports torch and SB3

pytest.importorskip("jupyterlab", reason="the lab extra is not installed: pip install -e '.[lab]'")
playwright_sync = pytest.importorskip(
    "playwright.sync_api", reason="the lab extra is not installed: pip install -e '.[lab]'"
)
if not CHROMIUM.is_file():
    pytest.skip(
        "Debian's chromium is missing (/usr/bin/chromium) and could not be installed: "
        "run 'apt-get install chromium' as root, or 'make test' which does",
        allow_module_level=True,
    )

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _lab_dirs(tmp_path: Path) -> tuple[Path, Path, dict[str, str]]:
    """The server's root (holding the notebook), its settings dir and a private Jupyter env."""
    root = tmp_path / "lab-root"
    root.mkdir()
    shutil.copy(PROJECT_ROOT / "notebooks" / "00_triage.ipynb", root)
    settings = tmp_path / "lab-settings"
    notification = settings / "@jupyterlab" / "apputils-extension"
    notification.mkdir(parents=True)
    # The news toast would cover the notebook in the screenshots.
    (notification / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False})
    )
    env = {
        name: str(tmp_path / name.lower())
        for name in ("JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR", "IPYTHONDIR")
    }
    return root, settings, env


@pytest.fixture
def lab(tmp_path: Path, fresh_sandbox: Path) -> Iterator[str]:
    """A JupyterLab server for the sandbox; yields the notebook's URL (with the token)."""
    root, settings, env = _lab_dirs(tmp_path)
    port, token = _free_port(), secrets.token_hex(16)
    env.update(RUNBOOK_TARGET=str(fresh_sandbox), RUNBOOK_ARCHIVE=str(tmp_path / "archive"))
    log = (tmp_path / "lab.log").open("wb")
    proc = subprocess.Popen(
        # --allow-root: CI machines run tests as root; the server is bound to 127.0.0.1.
        [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--allow-root",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={root}",
            f"--LabApp.user_settings_dir={settings}",
            f"--LabApp.workspaces_dir={tmp_path / 'lab-workspaces'}",
        ],
        env={**os.environ, **env},
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=root,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        "JupyterLab did not start: " + (tmp_path / "lab.log").read_text()[-2000:]
                    ) from None
                time.sleep(0.2)
        yield f"{base}/lab/tree/00_triage.ipynb?token={token}"
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        log.close()


def _field(page: Any, kind: str, label: str) -> Any:
    """The input of an ipywidgets field of ``kind`` (text, checkbox) by its label."""
    return page.locator(f".widget-{kind}", has=page.locator("label", has_text=label)).locator(
        "input"
    )


def _shot(target: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    target.screenshot(path=str(SCREENSHOTS / name))


def _incidents(archive: Path) -> list[str]:
    root = archive / "incidents"
    return sorted(p.name for p in root.iterdir()) if root.is_dir() else []


def test_triage_form_rules_in_a_real_lab(lab: str, fresh_sandbox: Path, tmp_path: Path) -> None:
    expect = playwright_sync.expect
    expect.set_options(timeout=30_000)
    archive = tmp_path / "archive"
    with playwright_sync.sync_playwright() as driver:
        browser = driver.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS
        )
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(lab)
            # Idle before a kernel exists means nothing: wait for the kernel's own name.
            expect(page.locator("#jp-main-statusbar")).to_contain_text(
                "Python 3 (ipykernel) | Idle", timeout=LONG
            )
            page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
            page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
            plan_button = page.get_by_role("button", name="Record decision and preview plan")
            expect(plan_button).to_be_visible(timeout=LONG)
            form = page.locator(".jp-OutputArea-output", has=plan_button)
            form.scroll_into_view_if_needed()
            apply_button = page.get_by_role("button", name="Apply plan")
            chain_button = page.get_by_role("button", name="Run the headless chain")
            confirm = _field(page, "checkbox", "I reviewed the plan")

            # Run All opened nothing: no incident before Record.
            expect(form).to_contain_text("incident: none yet")
            expect(chain_button).to_be_disabled()
            assert _incidents(archive) == []
            _shot(page, "triage-0-no-incident.png")

            slower = _field(page, "text", "Slower by (%)")
            slower.press_sequentially("33")  # no Enter, no blur: every keystroke counts
            expect(form).to_contain_text("code-level rollback")
            _shot(page, "triage-1-typed.png")

            plan_button.click()
            expect(form).to_contain_text("env_type=EnvType.LEGACY")
            expect(form).to_contain_text("incident: INC-")
            assert len(_incidents(archive)) == 1
            expect(apply_button).to_be_disabled()
            confirm.check()
            expect(apply_button).to_be_enabled()
            _shot(page, "triage-2-plan-confirmed.png")

            slower.fill("10")  # the facts change: confirmation gone, the plan is stale
            expect(form).to_contain_text("this plan is for code")
            expect(confirm).not_to_be_checked()
            confirm.check()
            expect(apply_button).to_be_disabled()
            _shot(page, "triage-3-stale-plan.png")

            slower.fill("33")
            expect(form).not_to_contain_text("this plan is for code")
            expect(confirm).not_to_be_checked()
            confirm.check()
            expect(apply_button).to_be_enabled()
            apply_button.click()
            expect(form).to_contain_text("applied plan")
            expect(form).to_contain_text("rollback in effect: code, plan ")
            expect(confirm).not_to_be_checked()
            expect(apply_button).to_be_disabled()
            _shot(page, "triage-4-applied-banner.png")

            undo_button = page.get_by_role("button", name="Undo rollback")
            expect(undo_button).to_be_disabled()
            _field(page, "checkbox", "undo the rollback in effect").check()
            expect(undo_button).to_be_enabled()
            undo_button.click()
            expect(form).to_contain_text("reverted: ")
            expect(form).not_to_contain_text("rollback in effect:")
            _shot(page, "triage-5-undone.png")

            _field(page, "checkbox", "Crash or data loss").check()
            severity = page.locator(
                ".widget-dropdown", has=page.locator("label", has_text="Severity")
            ).locator("select")
            expect(severity).to_have_value("critical")
            expect(form).to_contain_text("severity: critical")
            _shot(page, "triage-6-crash-critical.png")

            chain_button.click()
            expect(chain_button).to_be_disabled()
            expect(form).to_contain_text("running  01_assessment", timeout=LONG)
            _shot(page, "triage-7-chain-running.png")
            expect(form).to_contain_text("report: runbook archive report", timeout=600_000)
            expect(chain_button).to_be_enabled()
            for name in (
                "01_assessment",
                "02_rollback",
                "03_parity",
                "04_verification",
                "06_postmortem",
            ):
                expect(form).to_contain_text(f"ok       {name}")
            expect(form).to_contain_text("-06_postmortem.html")
            form.scroll_into_view_if_needed()
            _shot(page, "triage-8-chain-done.png")
            _shot(form, "triage-form.png")
            assert len(_incidents(archive)) == 1  # one incident in the whole sitting
        finally:
            browser.close()
