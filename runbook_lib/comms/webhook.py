"""Post a JSON message to a webhook within one overall deadline.

A slow or hostile server must not hold ``runbook notify`` (or anything that
waits for it): each post, retries included, ends at its deadline and says so.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from runbook_lib.target.specs import DEFAULT_WEBHOOK_DEADLINE_S


@dataclass(frozen=True)
class PostResult:
    """How posting to the webhook went."""

    ok: bool
    attempts: int
    status: int | None = None
    error: str | None = None


def redact_url(url: str) -> str:
    """Scheme, host and port only: a webhook's path often is its secret."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}/…"


def _post_attempts(
    request: urllib.request.Request,
    attempts: int,
    base_delay_s: float,
    *,
    timeout_s: float,
    deadline: float,
    tried: list[int],
) -> PostResult:
    error: str | None = None
    status: int | None = None
    for attempt in range(1, attempts + 1):
        tried.append(attempt)
        left = deadline - time.monotonic()
        try:
            with urllib.request.urlopen(request, timeout=max(0.1, min(timeout_s, left))) as resp:
                return PostResult(True, attempt, resp.status)
        except urllib.error.HTTPError as err:
            status, error = err.code, f"HTTP {err.code} {err.reason}"
            if err.code < 500 and err.code != 429:
                return PostResult(False, attempt, status, error)  # the request itself is wrong
        except (urllib.error.URLError, OSError) as err:
            status, error = None, str(getattr(err, "reason", err))
        wait = base_delay_s * 2 ** (attempt - 1)
        if attempt < attempts and time.monotonic() + wait < deadline:
            time.sleep(wait)
        elif attempt < attempts:
            break  # no time left for another attempt
    return PostResult(False, len(tried), status, error)


def post_json(
    url: str,
    payload: Mapping[str, Any],
    *,
    attempts: int = 3,
    base_delay_s: float = 1.0,
    timeout_s: float = 10.0,
    deadline_s: float = DEFAULT_WEBHOOK_DEADLINE_S,
) -> PostResult:
    """POST ``payload`` as JSON; retry a connection error, a 5xx or a 429 with backoff.

    The waits double: ``base_delay_s``, then twice that. The whole post,
    retries included, ends after ``deadline_s``: a server that trickles its
    answer a byte at a time resets every socket timeout, so the attempts run in
    a daemon thread that is abandoned at the deadline. Never raises.
    """
    body = json.dumps(payload, default=str).encode("utf-8")
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    deadline = time.monotonic() + deadline_s
    tried: list[int] = []
    outcome: list[PostResult] = []
    worker = threading.Thread(
        target=lambda: outcome.append(
            _post_attempts(
                request, attempts, base_delay_s, timeout_s=timeout_s, deadline=deadline, tried=tried
            )
        ),
        name="webhook-post",
        daemon=True,
    )
    worker.start()
    worker.join(max(0.0, deadline - time.monotonic()))
    if outcome:
        return outcome[0]
    return PostResult(False, max(1, len(tried)), None, f"timed out after {deadline_s:g} s")
