"""Learners for the routing envs."""
