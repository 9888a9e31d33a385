"""Communication: seed 000 §5 and seed 003's templates, notifications, post-mortem, report.

Owns the message templates (``templates/``), rendering and posting them
(:mod:`.notify`), the post-mortem (:mod:`.postmortem`) and the report bundle
(:mod:`.bundle`). May import every layer below it, up to :mod:`runbook_lib.runs`.
"""
