"""The simulation core behind UnifiedSimEnv: spectrum state as numpy arrays.

The core knows nothing about gymnasium: it keeps the slot occupancy of every
link, the connections in service and their departures, and answers "which
slots are free on each candidate path of this request" for the RL adapter.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

import numpy as np

from src.rl.envs.modulation import slots_needed
from src.rl.envs.paths import Route, all_pairs_paths, longest_route_km
from src.rl.envs.settings import SimulationSettings
from src.rl.envs.topology import load_topology
from src.rl.envs.traffic import Request, TrafficGenerator


@dataclass(frozen=True)
class PairRoutes:
    """The k candidate routes of one node pair, as arrays padded to k rows."""

    link_rows: np.ndarray  # (k, max hops) link indices; padding points at an always-free row
    km: np.ndarray  # (k,) route lengths; 0 for a missing route
    exists: np.ndarray  # (k,) bool
    links: tuple[np.ndarray, ...]  # the real link indices of each existing route
    needed: dict[float, np.ndarray]  # bit rate -> (k,) slots needed, 0 when unusable


@dataclass(frozen=True)
class PathState:
    """Spectrum seen by one request on each of its k candidate paths."""

    runs: np.ndarray  # (k, slots) length of the free run ending at each slot
    free_count: np.ndarray  # (k,) slots free on every link of the path
    largest_block: np.ndarray  # (k,) longest contiguous free run
    needed: np.ndarray  # (k,) slots the request needs on the path; 0 when it cannot use it
    fits: np.ndarray  # (k,) bool: the request fits the path by first fit


class SimulationCore:
    """Slot occupancy (links x slots, bool), connections in service and the traffic clock."""

    def __init__(self, settings: SimulationSettings) -> None:
        self.settings = settings
        topology = load_topology(settings.topology)
        self.num_nodes = topology.num_nodes
        self.num_links = len(topology.links)
        table = all_pairs_paths(topology, settings.k_paths)
        self.length_scale = longest_route_km(table)
        self._pairs = {pair: self._pack(routes) for pair, routes in table.items()}
        # One extra row that is never occupied pads routes shorter than the longest.
        self.occupied = np.zeros((self.num_links + 1, settings.num_slots), dtype=bool)
        self._in_service: dict[int, tuple[np.ndarray, int, int]] = {}
        self._departures: list[tuple[float, int]] = []
        self._traffic: TrafficGenerator | None = None
        self.request: Request | None = None
        self.paths: PathState | None = None

    def _pack(self, routes: tuple[Route, ...]) -> PairRoutes:
        k = self.settings.k_paths
        width = max((route.hops for route in routes), default=1)
        link_rows = np.full((k, width), self.num_links, dtype=np.intp)
        km = np.zeros(k)
        exists = np.zeros(k, dtype=bool)
        for index, route in enumerate(routes):
            link_rows[index, : route.hops] = route.links
            km[index] = route.km
            exists[index] = True
        links = tuple(np.array(route.links, dtype=np.intp) for route in routes)
        needed = {rate: self._slots_table(routes, rate) for rate in self.settings.bitrates}
        return PairRoutes(link_rows, km, exists, links, needed)

    def _slots_table(self, routes: tuple[Route, ...], bitrate: float) -> np.ndarray:
        table = np.zeros(self.settings.k_paths, dtype=np.int64)
        for index, route in enumerate(routes):
            table[index] = slots_needed(bitrate, route.km, self.settings.guard_slots) or 0
        return table

    def reset(self, rng: np.random.Generator) -> Request:
        """Empty the network and draw the first request."""
        settings = self.settings
        self.occupied[:] = False
        self._in_service = {}
        self._departures = []
        self._traffic = TrafficGenerator(
            rng, self.num_nodes, settings.erlang, settings.holding_time, settings.bitrates
        )
        return self.advance()

    def advance(self) -> Request:
        """Draw the next request, release what departed before it and survey its paths."""
        if self._traffic is None:
            raise RuntimeError("reset the simulation before advancing it")
        request = self._traffic.next_request()
        self._release_until(request.arrival)
        self.request = request
        self.paths = self._survey(request)
        return request

    @property
    def routes(self) -> PairRoutes:
        """Candidate routes of the current request."""
        if self.request is None:
            raise RuntimeError("reset the simulation first")
        return self._pairs[(self.request.source, self.request.target)]

    @property
    def active_connections(self) -> int:
        """Connections in service."""
        return len(self._in_service)

    def _release_until(self, now: float) -> None:
        while self._departures and self._departures[0][0] <= now:
            _, connection_id = heapq.heappop(self._departures)
            links, start, stop = self._in_service.pop(connection_id)
            self.occupied[links, start:stop] = False

    def _survey(self, request: Request) -> PathState:
        pair = self._pairs[(request.source, request.target)]
        free = ~self.occupied[pair.link_rows].any(axis=1)
        counts = np.cumsum(free, axis=1)
        # Subtracting the count at the last busy slot leaves the length of the free run.
        runs = counts - np.maximum.accumulate(np.where(free, 0, counts), axis=1)
        largest = runs.max(axis=1)
        needed = pair.needed[request.bitrate]
        fits = (needed > 0) & (needed <= largest)
        return PathState(runs, counts[:, -1], largest, needed, fits)

    def first_fit(self, path_index: int) -> int | None:
        """Lowest start slot of a free block that fits the current request on a path."""
        paths = self.paths
        if paths is None or not paths.fits[path_index]:
            return None
        needed = int(paths.needed[path_index])
        end = int(np.argmax(paths.runs[path_index] >= needed))
        return end - needed + 1

    def allocate(self, path_index: int, start: int) -> int:
        """Occupy the current request's slots from ``start``; return how many."""
        request, paths = self.request, self.paths
        if request is None or paths is None:
            raise RuntimeError("reset the simulation first")
        links = self.routes.links[path_index]
        stop = start + int(paths.needed[path_index])
        self.occupied[links, start:stop] = True
        connection_id = request.index + 1
        self._in_service[connection_id] = (links, start, stop)
        heapq.heappush(self._departures, (request.departure, connection_id))
        return stop - start
