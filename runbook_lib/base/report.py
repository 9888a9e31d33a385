"""Results of checks, as plain data that the CLI, notebooks and archive share."""

import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from types import MappingProxyType
from typing import Any, Literal, NamedTuple

from runbook_lib.base.records import plain

Status = Literal["pass", "fail", "warn", "skip"]
STATUSES: tuple[Status, ...] = ("pass", "fail", "warn", "skip")


class CheckResult(NamedTuple):
    """The outcome of one check.

    Attributes:
        name: Stable identifier, e.g. ``config-flag.verify``.
        status: ``pass``, ``fail``, ``warn`` or ``skip``.
        summary: One line for people.
        evidence: What was measured or compared, as JSON-ready data.
        duration_s: Wall time the check took.
        blocking: Whether a ``fail`` must stop the procedure.
    """

    name: str
    status: Status
    summary: str
    evidence: Mapping[str, Any] = MappingProxyType({})
    duration_s: float = 0.0
    blocking: bool = True

    @property
    def ok(self) -> bool:
        """True unless the check failed."""
        return self.status != "fail"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        data: dict[str, Any] = plain(self)
        return data


@contextmanager
def timed() -> Iterator[Callable[[], float]]:
    """Yield a function that returns the seconds since the block started."""
    start = time.perf_counter()
    yield lambda: time.perf_counter() - start
