"""Verification checks: each is a function ``(manifest, ...) -> CheckResult``.

A check never changes the target and never ``assert``-s to decide: it runs the
target's code in a child process of the target (its root as working
directory, the rollback's environment applied) and reports what it saw as a
:class:`~runbook_lib.base.report.CheckResult` with the evidence.
"""
