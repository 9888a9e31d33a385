"""The env worker: the target's code run in the target's own interpreter.

``envworker.py`` is a standalone file started by path under the target's
interpreter; it imports only the standard library and the target's
gymnasium/numpy, never runbook (its siblings ``envepisodes``, ``envleaves``,
``envpolicies`` and ``envprobes`` likewise). ``client.py`` is runbook's side of its
versioned line-delimited JSON protocol.
"""
