"""Workspace source root: ``src.rl`` holds the RL code."""
