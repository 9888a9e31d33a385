"""Validate the manifest's sections about the running system.

``[service]``, ``[parity]`` and ``[notify]``; :mod:`runbook_lib.target.sections` has
the rest and the shared validators.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from runbook_lib.target.parity_sections import RUN_KEYS
from runbook_lib.target.sections import NAME_PATTERN, argv_of, matched, rel_path
from runbook_lib.target.specs import (
    DEFAULT_MARGIN,
    DEFAULT_WEBHOOK_DEADLINE_S,
    ServiceSpec,
)
from runbook_lib.target.tomlcheck import Table, is_env_name, names_a_secret

_SERVICE_KEYS = (
    "name",
    "adapter",
    "command",
    "env",
    "pidfile",
    "state_file",
    "health_path",
    "unit",
    "health_url",
    "port",
)


_PROCESS_ONLY = ("command", "env", "pidfile", "state_file", "port")


_RAY_ADDRESS = re.compile(r"^(auto|(ray://)?[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?:\d{1,5})$")


PARITY_KEYS = ("default_margin", "margins", "ray_address", *RUN_KEYS)


def _url(table: Table, key: str) -> str | None:
    url = table.opt_text(key)
    if url is None:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        table.fail(key, f"{url!r} is not an http(s) URL")
    if parts.password:
        table.fail(key, "must not carry a password; name the variable that holds it in 'secrets'")
    return url


def _service_env(table: Table) -> dict[str, str]:
    env = table.strings("env")
    for name in env:
        if not is_env_name(name):
            table.fail("env", f"{name!r} is not an environment variable name")
        if names_a_secret(name):
            table.fail(
                "env",
                f"{name} looks like a secret and may not be set here",
                hint=f"list {name!r} in 'secrets' and set it in the environment",
            )
    return env


def service_section(top: Table) -> ServiceSpec | None:
    """The ``[service]`` section for adapter ``process`` or ``systemd``, if present."""
    table = top.opt_table("service", _SERVICE_KEYS)
    if table is None:
        return None
    name = matched(table, "name", NAME_PATTERN, "a service name (letters, digits, . _ -)")
    adapter = table.text("adapter")
    health_url = _url(table, "health_url")
    health_path = table.opt_text("health_path") or "/health"
    if not health_path.startswith("/"):
        table.fail("health_path", f"{health_path!r} must start with '/'")
    if adapter == "systemd":
        for key in _PROCESS_ONLY:
            if table.has(key):
                table.fail(key, "applies only to adapter 'process'")
        return ServiceSpec(
            name, "systemd", health_path=health_path, unit=table.text("unit"), health_url=health_url
        )
    if adapter != "process":
        table.fail(
            "adapter",
            f"{adapter!r} is not a service adapter",
            hint="use 'process' (command, pidfile, state_file) or 'systemd' (unit)",
        )
    if table.has("unit"):
        table.fail("unit", "applies only to adapter 'systemd'")
    port = table.number("port", 0)
    if port != int(port) or not 0 <= port <= 65535:
        table.fail("port", f"{port:g} is not a port (0..65535; 0: the service picks a free one)")
    return ServiceSpec(
        name,
        "process",
        argv_of(table, "command", ("python", "port")),
        _service_env(table),
        rel_path(table, "pidfile"),
        rel_path(table, "state_file"),
        health_path,
        health_url=health_url,
        port=int(port),
    )


def _margin(table: Table, key: str, default: float) -> float:
    value = table.number(key, default)
    if not 0 < value < 1:
        table.fail(key, f"{value} must lie between 0 and 1 (0.05 means 5%)")
    return value


def parity_margins(top: Table) -> tuple[float, dict[str, float]]:
    """The ``[parity]`` default margin and the per-metric margins."""
    table = top.opt_table("parity", PARITY_KEYS)
    if table is None:
        return DEFAULT_MARGIN, {}
    default = _margin(table, "default_margin", DEFAULT_MARGIN)
    metrics = table.data.get("margins")
    # Any metric name is accepted here: the parity engine decides which ones it measures.
    sub = table.opt_table("margins", tuple(metrics) if isinstance(metrics, dict) else ())
    if sub is None:
        return default, {}
    return default, {metric: _margin(sub, metric, default) for metric in sub.data}


def ray_address(top: Table) -> str | None:
    """The ``[parity]`` Ray address, if set."""
    table = top.opt_table("parity", PARITY_KEYS)
    if table is None or table.opt_text("ray_address") is None:
        return None
    return matched(
        table,
        "ray_address",
        _RAY_ADDRESS,
        "a Ray address ('auto', 'host:port' or 'ray://host:port')",
    )


_NOTIFY_KEYS = ("webhook_url", "webhook_url_env", "deadline_s")


def notify_deadline(top: Table) -> float:
    """The ``[notify]`` deadline of one post, retries included, in seconds."""
    table = top.opt_table("notify", _NOTIFY_KEYS)
    if table is None:
        return DEFAULT_WEBHOOK_DEADLINE_S
    value = table.number("deadline_s", DEFAULT_WEBHOOK_DEADLINE_S)
    if not 0 < value <= 600:
        table.fail("deadline_s", f"{value} must be a number of seconds above 0, at most 600")
    return value


def notify_section(top: Table) -> tuple[str | None, str | None]:
    """The ``[notify]`` webhook URL and the variable naming it, if present."""
    table = top.opt_table("notify", _NOTIFY_KEYS)
    if table is None:
        return None, None
    env_name = table.opt_text("webhook_url_env")
    if env_name is not None and not is_env_name(env_name):
        table.fail("webhook_url_env", f"{env_name!r} is not an environment variable name")
    return _url(table, "webhook_url"), env_name
