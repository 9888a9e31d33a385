"""Action types: each plans its change as data, applies, reverts and verifies it.

A plan step is an :class:`~runbook_lib.rollback.actions.model.Step`; the engine
finds the action type of each step by its name. May import base, target,
incident and the action model; never the engine.
"""
