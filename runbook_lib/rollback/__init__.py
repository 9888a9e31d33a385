"""Rollbacks: actions, strategies, plans, the journaled engine, the target lock, operations.

Owns the action types (:mod:`.actions`), the strategies that build them from the
manifest, content-addressed plans, plan/apply/undo/resume with crash safety
(:mod:`.engine`), the per-target lock, the incident-level operations the CLI and
notebooks call, and documenting a difference as intentional. May import every
layer below: base, target, incident, decide, evidence.
"""
