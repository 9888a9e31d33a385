"""Decisions: seed 000's decision tree and seed 003's scenarios, from facts to a strategy.

Pure functions from an :class:`~runbook_lib.decide.tree.Assessment` to a
:class:`~runbook_lib.decide.tree.Decision` with its path, reasons and source
(:mod:`.tree`), and from a seed 003 scenario to a
:class:`~runbook_lib.decide.scenarios.SacDecision` (:mod:`.scenarios`).
May import :mod:`runbook_lib.base` only.
"""
