"""Probes: small programs that run in the target's interpreter, never in runbook's.

Each is started as ``python -m runbook_lib.target.probes.NAME`` with the target's
root as working directory, and writes one JSON result. May import
:mod:`runbook_lib.base` and the rest of :mod:`runbook_lib.target` only.
"""
