"""Leaves every layer may use: errors, atomic file writes and hashing, check reports, crash points.

Owns the exception hierarchy (:mod:`.errors`), atomic, confined writes and tree
hashes (:mod:`.fsutil`), the :class:`~runbook_lib.base.report.CheckResult` record
that checks, actions and notebooks share (:mod:`.report`), and the test-only crash
injection points (:mod:`.crashpoints`). Imports nothing from runbook_lib outside
this package.
"""
