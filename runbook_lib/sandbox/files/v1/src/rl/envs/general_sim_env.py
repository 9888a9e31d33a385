"""GeneralSimEnv: the RSA environment, built on plain lists and dicts.

Create it with :func:`src.rl.envs.factory.create_sim_env`, which reads the
simulation settings from ``config.ini``.

Each step serves one connection request: the action picks one of the k
shortest paths, the request gets the first contiguous block of free slots
common to every link of that path (first fit), and the reward is +1 when it
fits, -1 when it is blocked.
"""

from __future__ import annotations

import heapq
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from src.rl.envs.modulation import slots_needed
from src.rl.envs.paths import Route, all_pairs_paths, longest_route_km
from src.rl.envs.settings import SimulationSettings
from src.rl.envs.topology import load_topology
from src.rl.envs.traffic import Request, TrafficGenerator


class GeneralSimEnv(gym.Env[np.ndarray, np.int64]):
    """Routing and spectrum assignment environment (lists of slot owners)."""

    def __init__(self, settings: SimulationSettings | None = None) -> None:
        self.settings = settings or SimulationSettings()
        topology = load_topology(self.settings.topology)
        self.num_nodes = topology.num_nodes
        self.num_links = len(topology.links)
        self.paths = all_pairs_paths(topology, self.settings.k_paths)
        self.length_scale = longest_route_km(self.paths)
        k = self.settings.k_paths
        self.action_space: spaces.Discrete = spaces.Discrete(k)
        self.observation_space = spaces.Box(
            0.0, 1.0, shape=(2 * self.num_nodes + 4 * k,), dtype=np.float32
        )
        # spectrum[link][slot] is 0 when free, else the id of the connection using it.
        self.spectrum: list[list[int]] = []
        self.connections: dict[int, dict[str, Any]] = {}
        self.departures: list[tuple[float, int]] = []
        self.traffic: TrafficGenerator | None = None
        self.request: Request | None = None
        self.path_info: list[dict[str, Any]] = []
        self.processed = 0
        self.blocked = 0

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Empty the network and draw the first request."""
        super().reset(seed=seed)
        settings = self.settings
        self.spectrum = [[0] * settings.num_slots for _ in range(self.num_links)]
        self.connections = {}
        self.departures = []
        self.processed = 0
        self.blocked = 0
        self.traffic = TrafficGenerator(
            self.np_random, self.num_nodes, settings.erlang, settings.holding_time,
            settings.bitrates,
        )
        self._next_request()
        info = {"blocking_probability": 0.0, "active_connections": 0, "time": self._now()}
        return self._observation(), info

    def step(
        self, action: int | np.integer[Any]
    ) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Serve the current request on path ``action`` and draw the next one."""
        path_index = int(action)
        if not 0 <= path_index < self.settings.k_paths:
            raise ValueError(
                f"action {action!r} is not a path index 0..{self.settings.k_paths - 1}"
            )
        if self.request is None:
            raise RuntimeError("call reset() before step()")
        request = self.request
        start = self._first_fit(path_index)
        slots = 0
        if start is None:
            self.blocked += 1
            reward = -1.0
        else:
            path = self.path_info[path_index]
            slots = int(path["slots"])
            self._allocate(request, path["route"], start, slots)
            reward = 1.0
        self.processed += 1
        terminated = self.processed >= self.settings.num_requests
        self._next_request()
        info = {
            "request": request.index,
            "blocked": start is None,
            "path_index": path_index,
            "start_slot": -1 if start is None else start,
            "slots": slots,
            "blocking_probability": self.blocked / self.processed,
            "active_connections": len(self.connections),
            "time": request.arrival,
        }
        return self._observation(), reward, terminated, False, info

    def _now(self) -> float:
        return self.request.arrival if self.request is not None else 0.0

    def _next_request(self) -> None:
        if self.traffic is None:
            raise RuntimeError("call reset() before step()")
        self.request = self.traffic.next_request()
        self._release_until(self.request.arrival)
        self.path_info = self._describe_paths(self.request)

    def _release_until(self, now: float) -> None:
        while self.departures and self.departures[0][0] <= now:
            _, connection_id = heapq.heappop(self.departures)
            connection = self.connections.pop(connection_id)
            start, stop = connection["start"], connection["stop"]
            for link in connection["links"]:
                self.spectrum[link][start:stop] = [0] * (stop - start)

    def _allocate(self, request: Request, route: Route, start: int, count: int) -> None:
        connection_id = request.index + 1  # 0 marks a free slot
        for link in route.links:
            self.spectrum[link][start : start + count] = [connection_id] * count
        self.connections[connection_id] = {
            "links": route.links, "start": start, "stop": start + count, "request": request,
        }
        heapq.heappush(self.departures, (request.departure, connection_id))

    def _describe_paths(self, request: Request) -> list[dict[str, Any]]:
        described = []
        for route in self.paths[(request.source, request.target)]:
            free = self._common_free_slots(route)
            described.append({
                "route": route,
                "slots": slots_needed(request.bitrate, route.km, self.settings.guard_slots),
                "free": free,
                "free_count": sum(free),
                "largest_block": _largest_block(free),
            })
        return described

    def _common_free_slots(self, route: Route) -> list[bool]:
        rows = [self.spectrum[link] for link in route.links]
        return [not any(owners) for owners in zip(*rows, strict=True)]

    def _first_fit(self, path_index: int) -> int | None:
        if path_index >= len(self.path_info):
            return None  # the node pair has fewer than k paths
        path = self.path_info[path_index]
        needed = path["slots"]
        if needed is None or needed > path["largest_block"]:
            return None
        run = 0
        for slot, is_free in enumerate(path["free"]):
            run = run + 1 if is_free else 0
            if run == needed:
                return int(slot - needed + 1)
        return None

    def _observation(self) -> np.ndarray:
        request = self.request
        if request is None:
            raise RuntimeError("call reset() first")
        num_slots = self.settings.num_slots
        source = [0.0] * self.num_nodes
        target = [0.0] * self.num_nodes
        source[request.source] = 1.0
        target[request.target] = 1.0
        lengths, needs, free, largest = [], [], [], []
        for index in range(self.settings.k_paths):
            if index >= len(self.path_info):
                lengths.append(1.0)
                needs.append(1.0)
                free.append(0.0)
                largest.append(0.0)
                continue
            path = self.path_info[index]
            lengths.append(path["route"].km / self.length_scale)
            needed = path["slots"]
            needs.append(1.0 if needed is None else min(needed, num_slots) / num_slots)
            free.append(path["free_count"] / num_slots)
            largest.append(path["largest_block"] / num_slots)
        return np.array(source + target + lengths + needs + free + largest, dtype=np.float32)


def _largest_block(free: list[bool]) -> int:
    best = run = 0
    for is_free in free:
        if is_free:
            run += 1
            # Not max(): a call per slot makes this hot loop a third slower.
            if run > best:  # noqa: PLR1730
                best = run
        else:
            run = 0
    return best
