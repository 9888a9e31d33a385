"""What is left of the probes in runbook's own process: digests, config reading, a callback.

Target code never runs here: the env checks, model loading and training run
in the env worker (:mod:`runbook_lib.target.worker`). These modules hold the
pieces runbook still uses itself: :func:`envprobe.obs_digest` (parity
baselines), :func:`modelprobe.load_config` and :func:`modelprobe.deployed_model`
(the models check) and :class:`monitoring.MonitoringCallback`. May import
:mod:`runbook_lib.base` and the rest of :mod:`runbook_lib.target` only.
"""
