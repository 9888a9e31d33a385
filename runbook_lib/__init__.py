"""runbook: roll back a reinforcement-learning system safely and prove what was done."""

__version__ = "0.1.0"
