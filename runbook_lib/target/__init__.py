"""The target: what ``runbook.toml`` says about a project, and the doors into it.

Owns the manifest and its TOML checking, declared secrets, entry points, git
helpers, the service adapters, backup checksum files, the ``rollback.env`` and
INI formats the target reads, and the probes that run inside the target's own
interpreter (:mod:`.probes`). May import :mod:`runbook_lib.base` only.
"""
