"""Front ends: the CLI, the notebooks' facade, triage, assessment, recovery and the drill.

The only layer that may import :mod:`runbook_lib.sandbox`. Within it, the CLI
(:mod:`.cli`) and the notebook facade (:mod:`.nb`) sit on top; triage,
recovery, assessment and the drill are the workflows they call. May import
every other package.
"""
