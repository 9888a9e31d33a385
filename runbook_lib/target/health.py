"""Health checks of a target's service: HTTP GETs to 127.0.0.1 only, without proxies.

:func:`probe` makes one GET; :func:`poll_health` repeats an adapter's attempt
until the service is healthy, gives up, or the timeout passes, and returns a
:class:`HealthReport`.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from runbook_lib.base.checknames import CheckName
from runbook_lib.base.errors import InvalidInputError
from runbook_lib.base.report import CheckResult

if TYPE_CHECKING:
    import urllib.request

LOOPBACK = "127.0.0.1"
POLL_S = 0.1


@dataclass(frozen=True)
class HealthReport:
    """The outcome of waiting for the service to answer its health check.

    Attributes:
        name: The service's name.
        healthy: True when the health endpoint answered 200 with ``status: ok``.
        url: The health URL probed (``None`` if it never became known).
        status_code: The last HTTP status received.
        body: The last JSON body received.
        waited_s: Seconds spent waiting.
        attempts: Number of probes made.
        error: Why it is not healthy.
    """

    name: str
    healthy: bool
    url: str | None = None
    status_code: int | None = None
    body: dict[str, Any] = field(default_factory=dict)
    waited_s: float = 0.0
    attempts: int = 0
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)

    def to_check(self, name: str = CheckName.SERVICE_HEALTH) -> CheckResult:
        """The report as a blocking :class:`~runbook_lib.base.report.CheckResult`."""
        if self.healthy:
            version = self.body.get("version", "?")
            summary = f"{self.name} healthy at {self.url} (version {version})"
            return CheckResult(name, "pass", summary, self.to_dict(), self.waited_s)
        summary = f"{self.name} not healthy after {self.waited_s:.1f} s: {self.error}"
        return CheckResult(name, "fail", summary, self.to_dict(), self.waited_s)


def free_loopback_port() -> int:
    """A port on 127.0.0.1 that nothing listens on now (the OS picks it)."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def check_loopback_url(url: str) -> str:
    """Return ``url`` if it is ``http://127.0.0.1:<port>/...``.

    Raises:
        InvalidInputError: any other scheme or host.
    """
    parts = urlsplit(url)
    if parts.scheme != "http" or parts.hostname != LOOPBACK or parts.port is None:
        raise InvalidInputError(
            f"health URL {url!r} is not http://{LOOPBACK}:<port>/...",
            hint="the runbook only probes services on this machine's loopback address",
        )
    return url


@functools.cache
def _no_proxy_opener() -> urllib.request.OpenerDirector:
    # Imported here: urllib.request pulls in http.client, which `rollback now` never needs.
    import urllib.request

    return urllib.request.build_opener(urllib.request.ProxyHandler({}))


def probe(url: str, *, timeout: float = 2.0) -> tuple[int, dict[str, Any]]:
    """GET a loopback URL and return its status code and JSON body (``{}`` if not JSON).

    Raises:
        InvalidInputError: the URL is not on 127.0.0.1.
        OSError: the connection failed (refused, reset, timed out).
    """
    import urllib.error

    check_loopback_url(url)
    try:
        with _no_proxy_opener().open(url, timeout=timeout) as response:
            status, raw = int(response.status), response.read()
    except urllib.error.HTTPError as err:
        status, raw = int(err.code), err.read()
    try:
        body = json.loads(raw)
    except ValueError:
        body = {}
    return status, body if isinstance(body, dict) else {}


def is_healthy(status: int, body: Mapping[str, Any]) -> bool:
    """The health contract: HTTP 200 and ``"status": "ok"``."""
    return status == 200 and body.get("status") == "ok"


@dataclass
class HealthProbe:
    """What the health probes of one wait have seen so far."""

    url: str | None = None
    code: int | None = None
    body: dict[str, Any] = field(default_factory=dict)
    attempts: int = 0
    error: str = "not probed yet"

    def hit(self, url: str) -> bool:
        """Probe ``url`` once; True when healthy."""
        self.url = url
        self.attempts += 1
        try:
            self.code, self.body = probe(url, timeout=2.0)
        except OSError as err:
            self.error = f"health probe failed: {err}"
            return False
        healthy = is_healthy(self.code, self.body)
        self.error = "" if healthy else f"health answered {self.code}: {self.body or 'no JSON'}"
        return healthy


def poll_health(
    name: str, timeout: float, attempt: Callable[[HealthProbe], bool | None]
) -> HealthReport:
    """Call ``attempt`` until it says True (healthy) or False (give up), or ``timeout`` passes."""
    started = time.perf_counter()
    seen = HealthProbe()
    while True:
        verdict = attempt(seen)
        waited = round(time.perf_counter() - started, 3)
        if verdict is True:
            return HealthReport(name, True, seen.url, seen.code, seen.body, waited, seen.attempts)
        if verdict is False or waited >= timeout:
            return HealthReport(
                name, False, seen.url, seen.code, seen.body, waited, seen.attempts, seen.error
            )
        time.sleep(POLL_S)
