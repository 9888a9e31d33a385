"""Leaves every layer may use: errors, atomic file writes and hashing, check reports, crash points.

Owns the exception hierarchy (:mod:`.errors`), atomic, confined writes and tree
hashes (:mod:`.fsutil`), the :class:`~runbook_lib.base.report.CheckResult` record
that checks, actions and notebooks share (:mod:`.report`), and the test-only crash
injection points (:mod:`.crashpoints`), and the names of the verification checks
with their old aliases (:mod:`.checknames`: verify produces them and rollback's
checklists list them, so they live below both). Imports nothing from runbook_lib outside
this package.
"""
