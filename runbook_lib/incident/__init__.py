"""Incidents: the record's model and state machine, its store, deadlines and journal.

Owns the incident record (ID, title, severity, kind, state and its transitions),
where it is stored, seed 003's communication deadlines, and the append-only,
fsynced journal of everything done for an incident. May import
:mod:`runbook_lib.base` and :mod:`runbook_lib.target`.
"""
