"""SAC trading agent: a gymnasium trading env and a stable-baselines3 SAC policy.

Modules are imported on their own (``src.rl.sac.sac_agent`` pulls in torch):

* ``config``       load ``configs/sac_config.json`` and check it against the schema
* ``prices``       the seeded synthetic market (GBM with regime switches)
* ``trading_env``  ``TradingEnv``: target position in [-1, 1], PnL minus costs
* ``metrics``      return, Sharpe, drawdown, turnover and costs of an episode
* ``sac_agent``    train, load, act and evaluate
* ``integrity``    verify a ``SHA256SUMS`` manifest (backups)
"""
