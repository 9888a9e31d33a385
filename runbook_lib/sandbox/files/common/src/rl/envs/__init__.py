"""Routing and spectrum assignment (RSA) environments on an elastic optical network.

Create environments through :func:`src.rl.envs.factory.create_sim_env`; the
modules here are imported on demand so that ``import src.rl.envs`` stays cheap.
"""
