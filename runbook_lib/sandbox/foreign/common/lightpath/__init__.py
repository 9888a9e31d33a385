"""lightpath: RL environments for routing and spectrum assignment (RSA)."""
