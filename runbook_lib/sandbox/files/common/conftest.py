"""Workspace-wide pytest configuration."""
