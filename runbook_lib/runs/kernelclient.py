"""A kernel client that is ready as soon as the kernel has answered it, with no fixed wait.

jupyter_client's ``wait_for_ready`` sends ``kernel_info``, waits for the reply
on the shell channel and for one message on IOPub (proof that IOPub is
connected), then reads IOPub until it has been silent for 0.2 s: every run
paid those 0.2 s (measured 0.206-0.210 s a call on a started kernel) before
its first cell, whatever the kernel's speed. The client here waits for the
same reply and for the ``idle`` status that the kernel publishes on IOPub for
that very request: IOPub is then connected and holds nothing more for it.
Messages left from before have other parents, and nbclient reads only the
messages of the request it sent. When IOPub was not yet connected (the status
was published before the subscription), the request is sent again, as
jupyter_client does.
"""

from __future__ import annotations

import time
from queue import Empty
from typing import Any

# How long one round waits for the idle status before it asks again (jupyter_client's 0.2 s).
IOPUB_WAIT_S = 0.2
SHELL_WAIT_S = 1.0


def ready_client_class() -> type:
    """The ``AsyncKernelClient`` subclass whose ``wait_for_ready`` is described above."""
    from jupyter_client.asynchronous.client import AsyncKernelClient

    class ReadyKernelClient(AsyncKernelClient):
        """An async kernel client ready once its own ``kernel_info`` request went idle."""

        async def wait_for_ready(self, timeout: float | None = None) -> None:
            """Return once the kernel replied to ``kernel_info`` and went idle on IOPub.

            Raises:
                RuntimeError: the kernel died, or did not answer within ``timeout`` s.
            """
            limit = time.monotonic() + (float("inf") if timeout is None else timeout)
            while True:
                request = self.kernel_info()
                reply = await _reply(self.shell_channel, request, SHELL_WAIT_S, _is_info)
                if reply is not None and await _reply(
                    self.iopub_channel, request, IOPUB_WAIT_S, _is_idle
                ):
                    self._handle_kernel_info_reply(reply)
                    return
                if not await self.is_alive():
                    raise RuntimeError("Kernel died before replying to kernel_info")
                if time.monotonic() > limit:
                    raise RuntimeError(f"Kernel didn't respond in {timeout:g} seconds")

    return ReadyKernelClient


def _is_info(msg: dict[str, Any]) -> bool:
    return bool(msg.get("msg_type") == "kernel_info_reply")


def _is_idle(msg: dict[str, Any]) -> bool:
    content = msg.get("content") or {}
    return bool(msg.get("msg_type") == "status" and content.get("execution_state") == "idle")


async def _reply(channel: Any, request: str, wait: float, wanted: Any) -> dict[str, Any] | None:
    """The first message on ``channel`` for ``request`` that is ``wanted`` within ``wait`` s."""
    end = time.monotonic() + wait
    while (left := end - time.monotonic()) > 0:
        try:
            msg: dict[str, Any] = await channel.get_msg(timeout=left)
        except Empty:
            return None
        if (msg.get("parent_header") or {}).get("msg_id") == request and wanted(msg):
            return msg
    return None
