"""trade-agent-sac: serve a trained SAC trading policy over HTTP on 127.0.0.1.

Run ``python -m trade_agent_sac.server --model models/sac_v1.zip`` from the
repository root; see :mod:`trade_agent_sac.server`.
"""

__version__ = "1.0.0"
