"""Parity between a legacy env and its candidate: lockstep runs, statistics, plots.

Bottom up: ``remote`` (the envs, built in env workers of the target's
interpreter), ``lockstep`` (one chunk of paired episodes), ``raybackend`` and
``backends`` (where the chunks run), ``baseline`` (recordings), ``stats`` and
``engine`` (the report), ``plots``; then the run for an incident: ``inputs``,
``inprocess`` (one-line errors; in-process imports for the overhead bench only),
``decision`` and ``run``. Runbook's own process never imports the target's code.
"""
