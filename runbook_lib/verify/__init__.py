"""Verification: the checks of seed 000 §8 and seed 003 phases 3-5, and their registry.

Owns every check (:mod:`.checks`) and the registry that chooses and runs them
for a strategy (:mod:`.registry`). Checks return reports; they never change the
target. May import base, target, incident, decide, evidence and rollback.
"""
