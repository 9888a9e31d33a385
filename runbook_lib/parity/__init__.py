"""Parity between a legacy env and its candidate: lockstep runs, statistics, plots.

Bottom up: ``lockstep`` (one chunk of paired episodes), ``raybackend`` and
``backends`` (where the chunks run), ``baseline`` (recordings), ``stats`` and
``engine`` (the report), ``plots``; then the run for an incident: ``inputs``,
``inprocess`` (the target's code in this process), ``decision`` and ``run``.
"""
