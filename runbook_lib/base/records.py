"""Frozen records that cost nothing to define, and their plain (JSON-ready) form.

The records on the path of ``runbook rollback now`` (the manifest and its
sections, the incident, the journal, the plan, the lock, the reports) are
:class:`typing.NamedTuple` classes, not frozen dataclasses. Seed 000's
immediate rollback must start at once, and on Python 3.11 a frozen dataclass
compiles five or six generated methods when its module is imported: 1.3 ms per
class, about 40 of them on that path, plus 17 ms to import :mod:`dataclasses`
(which imports :mod:`inspect`). A NamedTuple is defined in about 0.15 ms. A test
keeps :mod:`dataclasses` out of that command (``tests/app/cli/test_fastnow.py``).

The modules that define most of those records (the manifest's, the journal's,
the plan's, the lock's, the run chain's) do without ``from __future__ import
annotations``: a NamedTuple's or TypedDict's string annotation is compiled into a
:class:`typing.ForwardRef` for each field when the class is made (about 30 us
each, 240 of them). Their classmethods return ``Self``.

What a NamedTuple record gives up, and what stands in for it:

* ``dataclasses.replace(r, x=1)`` is ``r._replace(x=1)``;
  ``dataclasses.asdict(r)`` is :func:`plain` (recursive, as ``asdict`` is).
* No default factories: a record's defaults are immutable values (``()``,
  another record, an empty mapping typed read-only), and accumulating reports
  are given their lists by whoever fills them.
* A record is a tuple: it compares equal to a tuple of the same values, and
  code that walks ``list | tuple`` values walks into it. Records are compared
  to records of their own type only, and JSON is made with :func:`plain`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def is_record(value: object) -> bool:
    """Whether ``value`` is a NamedTuple record (not a plain tuple)."""
    return isinstance(value, tuple) and hasattr(type(value), "_fields")


def plain(value: Any) -> Any:
    """``value`` with every record, recursively, turned into a dict of its fields.

    As :func:`dataclasses.asdict` does: lists stay lists, tuples tuples, and
    mappings become dicts; the result shares no container with ``value``.
    """
    if is_record(value):
        return {name: plain(item) for name, item in zip(value._fields, value, strict=True)}
    if isinstance(value, list | tuple):
        return type(value)(plain(item) for item in value)
    if isinstance(value, Mapping):
        return {plain(key): plain(item) for key, item in value.items()}
    return value
