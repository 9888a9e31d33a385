"""Reinforcement learning code: ``src.rl.envs`` (optical-network simulator) and ``src.rl.sac``.

Deliberately empty: the subpackages are independent and imported on their own.
"""
