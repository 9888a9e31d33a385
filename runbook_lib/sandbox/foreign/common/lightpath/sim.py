"""The RSA simulator both envs share: a six-node mesh, k candidate paths, first-fit spectrum."""

from __future__ import annotations

from typing import Dict, List, Tuple

import numpy as np
from gymnasium import spaces

from lightpath.config import SimulationSettings

NODES = 6
LINKS: Tuple[Tuple[int, int], ...] = (
    (0, 1),
    (1, 2),
    (2, 3),
    (3, 4),
    (4, 5),
    (5, 0),
    (0, 3),
    (1, 4),
)


def _paths(src: int, dst: int, k: int) -> List[List[int]]:
    """The k shortest simple paths as link indices (padded with the last one)."""
    adjacent: Dict[int, List[int]] = {n: [] for n in range(NODES)}
    for a, b in LINKS:
        adjacent[a].append(b)
        adjacent[b].append(a)
    found: List[List[int]] = []
    stack = [[src]]
    while stack:
        nodes = stack.pop()
        if nodes[-1] == dst:
            found.append(nodes)
            continue
        for nxt in sorted(adjacent[nodes[-1]], reverse=True):
            if nxt not in nodes:
                stack.append(nodes + [nxt])
    found.sort(key=lambda p: (len(p), p))
    index = {frozenset(link): i for i, link in enumerate(LINKS)}
    links = [[index[frozenset(pair)] for pair in zip(p, p[1:])] for p in found[:k]]
    return links + [links[-1]] * (k - len(links))


def observation_space(settings: SimulationSettings) -> spaces.Dict:
    """Seven keys of different shapes and dtypes, with a MultiDiscrete among them."""
    k = settings.k_paths
    return spaces.Dict(
        {
            "source": spaces.Discrete(NODES),
            "destination": spaces.Discrete(NODES),
            "holding_time": spaces.Box(0.0, 1000.0, (1,), np.float32),
            "request": spaces.MultiDiscrete([3, 2]),
            "free_slots": spaces.MultiBinary([k, settings.num_slots]),
            "path_hops": spaces.Box(0.0, float(NODES), (k,), np.float64),
            "utilization": spaces.Box(0.0, 1.0, (1,), np.float32),
        }
    )


class RoutingCore:
    """Requests arrive, hold spectrum on a path for a while, and leave."""

    def __init__(self, settings: SimulationSettings, rng: np.random.Generator) -> None:
        self.settings = settings
        self.rng = rng
        self.slots = np.zeros((len(LINKS), settings.num_slots), dtype=bool)
        self.active: List[Tuple[float, List[int], int, int]] = []
        self.clock = 0.0
        self.served = 0
        self.blocked = 0
        self.request = (0, 1, 1.0, 0, 0)
        self._new_request()

    def _new_request(self) -> None:
        src, dst = (int(n) for n in self.rng.choice(NODES, size=2, replace=False))
        holding = min(1000.0, float(self.rng.exponential(self.settings.holding_time)))
        self.request = (src, dst, holding, int(self.rng.integers(3)), int(self.rng.integers(2)))

    def paths(self) -> List[List[int]]:
        return _paths(self.request[0], self.request[1], self.settings.k_paths)

    def free(self) -> np.ndarray:
        return np.stack([~self.slots[p].any(axis=0) for p in self.paths()])

    def _first_fit(self, free: np.ndarray) -> int:
        width = self.request[3] + 1
        run = 0
        for slot, ok in enumerate(free):
            run = run + 1 if ok else 0
            if run == width:
                return slot - width + 1
        return -1

    def feasible(self) -> np.ndarray:
        return np.array([self._first_fit(row) >= 0 for row in self.free()], dtype=bool)

    def observation(self) -> Dict[str, np.ndarray]:
        src, dst, holding, cls, prio = self.request
        return {
            "source": np.int64(src),
            "destination": np.int64(dst),
            "holding_time": np.array([holding], dtype=np.float32),
            "request": np.array([cls, prio], dtype=np.int64),
            "free_slots": self.free().astype(np.int8),
            "path_hops": np.array([len(p) for p in self.paths()], dtype=np.float64),
            "utilization": np.array([self.slots.mean()], dtype=np.float32),
        }

    def serve(self, action: int) -> bool:
        """Place the request on path ``action`` (False: blocked), then the next one arrives."""
        path = self.paths()[action]
        start = self._first_fit(self.free()[action])
        accepted = start >= 0
        if accepted:
            width = self.request[3] + 1
            self.slots[np.ix_(path, range(start, start + width))] = True
            self.active.append((self.clock + self.request[2], path, start, width))
        else:
            self.blocked += 1
        self.served += 1
        self.clock += float(self.rng.exponential(self.settings.holding_time / self.settings.erlang))
        for leaving in [c for c in self.active if c[0] <= self.clock]:
            self.slots[np.ix_(leaving[1], range(leaving[2], leaving[2] + leaving[3]))] = False
            self.active.remove(leaving)
        self._new_request()
        return accepted

    @property
    def done(self) -> bool:
        return self.served >= self.settings.num_requests

    def info(self) -> Dict[str, object]:
        return {
            "blocking_probability": self.blocked / max(1, self.served),
            "served": self.served,
            "action_mask": self.feasible(),
        }
