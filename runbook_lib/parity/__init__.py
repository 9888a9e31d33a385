"""Parity between a legacy env and its candidate: lockstep runs, statistics, plots."""
