"""A kernel client ready without a fixed wait still gets the first cell's every output."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from queue import Empty
from typing import Any

from runbook_lib.runs.runner import ipc_manager_class


async def _output(client: Any, code: str) -> str:
    """The stream text ``code`` printed, read from IOPub until its idle status."""
    request = client.execute(code)
    text = ""
    while True:
        try:
            msg = await client.iopub_channel.get_msg(timeout=30)
        except Empty:
            return text + "(no idle status within 30 s)"
        if msg["parent_header"].get("msg_id") != request:
            continue
        if msg["msg_type"] == "stream":
            text += msg["content"]["text"]
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            return text


async def _clients_in_turn(sockets: Path, turns: int) -> list[tuple[str, str]]:
    manager = ipc_manager_class(sockets)(kernel_name="python3")
    await manager.start_kernel()
    seen = []
    try:
        for turn in range(turns):
            client = manager.client()
            client.start_channels()
            try:
                await client.wait_for_ready(timeout=60)
                seen.append((type(client).__name__, await _output(client, f"print({turn})")))
            finally:
                client.stop_channels()
    finally:
        await manager.shutdown_kernel(now=True)
    return seen


def test_a_ready_client_sees_its_first_cells_output() -> None:
    with tempfile.TemporaryDirectory(prefix="runbook-kernel-") as sockets:  # a short ipc path
        seen = asyncio.run(_clients_in_turn(Path(sockets), 3))
    assert seen == [("ReadyKernelClient", f"{turn}\n") for turn in range(3)]
