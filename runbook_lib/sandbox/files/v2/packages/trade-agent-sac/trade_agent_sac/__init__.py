"""trade-agent-sac: serve a trained SAC trading policy over HTTP on 127.0.0.1.

Run ``python -m trade_agent_sac.server --model models/sac_v2.zip`` from the
repository root; see :mod:`trade_agent_sac.server`. 1.1.0 serves the release
2.0 models, whose observations carry the volatility, momentum and drawdown
features (20 values instead of 17).
"""

__version__ = "1.1.0"
