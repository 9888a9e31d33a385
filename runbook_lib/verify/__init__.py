"""Verification: the checks of seed 000 §8 and seed 003 phases 3-5, and their registry.

Owns every check (:mod:`.checks`, the rollback's effect in :mod:`.checks.effect`),
the registry that chooses and runs them for a strategy (:mod:`.registry`), and the
rollback-readiness rehearsal of seed 000 §4 (:mod:`.readiness`, its matrix in
:mod:`.readiness_matrix`, its worktree in :mod:`.rehearsal`). Checks return
reports; they never change the target: the rehearsal rolls back and undoes in a
temporary worktree of the target's HEAD only. May import base, target,
incident, decide, evidence and rollback.
"""
