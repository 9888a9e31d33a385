"""Seed 000 §6 "Monitoring for Rollback Triggers" as an SB3 callback.

The seed's ``monitor_env_metrics`` logs ``Step {n}: reward={r:.2f}`` every 1000
steps and warns ``Step {n}: No valid actions available`` when the step's
``info["action_mask"]`` allows nothing. :class:`MonitoringCallback` does both
inside any SB3 ``learn()``: SB3's :class:`BaseCallback` is a template method
(``on_step`` calls ``_on_step``), and this class's own hooks,
:meth:`MonitoringCallback.on_progress` and :meth:`MonitoringCallback.on_empty_mask`,
can be overridden the same way (to alert a pager instead of logging, say).

It also remembers the step of its episode at which each empty mask came, so
that a defect that empties the mask at one step of every episode stands out
from a full network's empty masks, which come at varying steps.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
from stable_baselines3.common.callbacks import BaseCallback

from runbook_lib.base.errors import InvalidInputError

LOGGER_NAME = "runbook.monitoring"
DEFAULT_LOG_EVERY = 1000


class MonitoringCallback(BaseCallback):
    """Log progress every ``log_every`` steps and warn on steps with no valid action."""

    def __init__(
        self,
        log_every: int = DEFAULT_LOG_EVERY,
        logger: logging.Logger | None = None,
        verbose: int = 0,
    ) -> None:
        """Check the interval; ``logger`` defaults to ``runbook.monitoring``.

        Raises:
            InvalidInputError: ``log_every`` is not a positive integer.
        """
        super().__init__(verbose)
        if isinstance(log_every, bool) or not isinstance(log_every, int) or log_every < 1:
            raise InvalidInputError(
                f"log_every must be a positive number of steps, got {log_every!r}",
                hint=f"the seed logs every {DEFAULT_LOG_EVERY} steps",
            )
        self.log_every = log_every
        self.log = logger or logging.getLogger(LOGGER_NAME)
        self.progress_count = 0
        self.saw_mask = False
        self.empty_masks: list[tuple[int, int]] = []  # (step of the run, step of its episode)
        self.episode_lengths: list[int] = []
        self._episode_steps: list[int] = []
        self._intervals_logged = 0

    def _on_training_start(self) -> None:
        self._episode_steps = [0] * self.training_env.num_envs

    def _on_step(self) -> bool:
        step = int(self.num_timesteps)
        rewards = self.locals["rewards"]
        infos: list[dict[str, Any]] = self.locals["infos"]
        dones = self.locals["dones"]
        # With several envs the counter jumps by their number: log each crossed multiple once.
        if step // self.log_every > self._intervals_logged:
            self._intervals_logged = step // self.log_every
            self.on_progress(step, float(rewards[0]))
        for index, info in enumerate(infos):
            self._episode_steps[index] += 1
            mask = info.get("action_mask")
            if mask is not None:
                self.saw_mask = True
                if not np.any(mask):
                    self.on_empty_mask(step, self._episode_steps[index])
            if dones[index]:
                self.episode_lengths.append(self._episode_steps[index])
                self._episode_steps[index] = 0
        return True

    def on_progress(self, step: int, reward: float) -> None:
        """Log ``Step {n}: reward={r:.2f}`` (seed 000 §6)."""
        self.progress_count += 1
        self.log.info("Step %d: reward=%.2f", step, reward)

    def on_empty_mask(self, step: int, episode_step: int) -> None:
        """Warn ``Step {n}: No valid actions available`` (seed 000 §6)."""
        self.empty_masks.append((step, episode_step))
        self.log.warning("Step %d: No valid actions available", step)

    def summary(self) -> dict[str, Any]:
        """Counts and steps so far, JSON-ready."""
        return {
            "progress_count": self.progress_count,
            "warning_count": len(self.empty_masks),
            "saw_mask": self.saw_mask,
            "empty_masks": [list(pair) for pair in self.empty_masks],
            "episode_lengths": list(self.episode_lengths),
            "open_episode_steps": list(self._episode_steps),
        }
