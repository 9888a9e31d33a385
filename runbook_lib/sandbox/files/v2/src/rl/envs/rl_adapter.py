"""RLSimulationAdapter: the layer between the gymnasium API and the simulation core.

It turns the core's numpy state into the observation vector and the action
mask, and an action (a path index) into an allocation, a reward and the step's
info. The observation layout is the one GeneralSimEnv has always produced:
source one-hot, destination one-hot, then per path (k values each) the length,
the slots needed, the free-slot fraction and the largest free block, all
scaled to [0, 1].
"""

from __future__ import annotations

from typing import Any

import numpy as np

from src.rl.envs.sim_core import SimulationCore

ALLOCATED_REWARD = 1.0
BLOCKED_REWARD = -1.0


class RLSimulationAdapter:
    """Observations, masks and rewards computed from a :class:`SimulationCore`."""

    def __init__(self, core: SimulationCore) -> None:
        self.core = core
        self.k = core.settings.k_paths
        self.num_slots = core.settings.num_slots
        self.obs_size = 2 * core.num_nodes + 4 * self.k
        self.processed = 0
        self.blocked = 0

    def reset(self, rng: np.random.Generator) -> tuple[np.ndarray, dict[str, Any]]:
        """Start a new episode on ``rng``; return the first observation and info."""
        self.processed = 0
        self.blocked = 0
        request = self.core.reset(rng)
        info = {"blocking_probability": 0.0, "active_connections": 0, "time": request.arrival}
        return self.observation(), info

    def step(self, path_index: int) -> tuple[np.ndarray, float, bool, dict[str, Any]]:
        """Serve the current request on ``path_index``; return obs, reward, terminated, info."""
        core = self.core
        request = core.request
        if request is None:
            raise RuntimeError("call reset() before step()")
        start = core.first_fit(path_index)
        slots = 0
        if start is None:
            self.blocked += 1
        else:
            slots = core.allocate(path_index, start)
        self.processed += 1
        terminated = self.processed >= core.settings.num_requests
        core.advance()
        info = {
            "request": request.index,
            "blocked": start is None,
            "path_index": path_index,
            "start_slot": -1 if start is None else start,
            "slots": slots,
            "blocking_probability": self.blocked / self.processed,
            "active_connections": core.active_connections,
            "time": request.arrival,
        }
        reward = BLOCKED_REWARD if start is None else ALLOCATED_REWARD
        return self.observation(), reward, terminated, info

    def action_mask(self) -> np.ndarray:
        """Which paths the current request fits (bool, length k)."""
        paths = self.core.paths
        if paths is None:
            raise RuntimeError("call reset() first")
        return paths.fits.copy()

    def observation(self) -> np.ndarray:
        """The current request and its paths as a float32 vector in [0, 1]."""
        core = self.core
        request, paths = core.request, core.paths
        if request is None or paths is None:
            raise RuntimeError("call reset() first")
        routes = core.routes
        n, k, scale = core.num_nodes, self.k, float(self.num_slots)
        obs = np.zeros(self.obs_size, dtype=np.float32)
        obs[request.source] = 1.0
        obs[n + request.target] = 1.0
        features = np.empty((4, k))
        features[0] = np.where(routes.exists, routes.km / core.length_scale, 1.0)
        usable = paths.needed > 0
        features[1] = np.where(usable, np.minimum(paths.needed, self.num_slots) / scale, 1.0)
        features[2] = np.where(routes.exists, paths.free_count / scale, 0.0)
        features[3] = np.where(routes.exists, paths.largest_block / scale, 0.0)
        obs[2 * n :] = features.ravel()
        return obs
