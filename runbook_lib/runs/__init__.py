"""Notebook runs: papermill execution, parameter validation, the recorded run.

Owns the papermill runner and its kernels (:mod:`.runner`), the one validator of
notebook parameters (:mod:`.params`), and a run of a notebook for an incident
that leaves its executed copy in the archive (:mod:`.run`). May import base,
target, incident, decide, evidence, rollback, verify and parity.
"""

from runbook_lib.runs.lazyimports import defer_iri_grammar

defer_iri_grammar()  # before anything here imports nbformat (see the module)
