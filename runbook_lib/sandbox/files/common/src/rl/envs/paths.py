"""K shortest loop-free paths (Yen's algorithm) with deterministic tie-breaking.

Paths are ordered by length in km, then by hop count, then by the node
sequence, so every run (and both environments) sees the same k paths in the
same order.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from functools import lru_cache

from src.rl.envs.topology import Topology

Adjacency = dict[int, list[tuple[int, int]]]


@dataclass(frozen=True)
class Route:
    """A loop-free path: its nodes, the link indices between them and its length."""

    nodes: tuple[int, ...]
    links: tuple[int, ...]
    km: float

    @property
    def hops(self) -> int:
        """Number of links."""
        return len(self.links)


def _route(topology: Topology, nodes: tuple[int, ...], links: tuple[int, ...]) -> Route:
    # Summing from scratch in path order keeps a route's length independent of
    # how the search assembled it.
    return Route(nodes, links, float(sum(topology.links[i].km for i in links)))


def _sort_key(route: Route) -> tuple[float, int, tuple[int, ...]]:
    return (route.km, route.hops, route.nodes)


def _dijkstra(
    topology: Topology,
    adjacency: Adjacency,
    source: int,
    target: int,
    *,
    banned_nodes: frozenset[int],
    banned_links: frozenset[int],
) -> Route | None:
    frontier: list[tuple[float, int, tuple[int, ...], tuple[int, ...]]] = [
        (0.0, 0, (source,), ())
    ]
    settled: set[int] = set()
    while frontier:
        km, hops, nodes, links = heapq.heappop(frontier)
        node = nodes[-1]
        if node in settled:
            continue
        settled.add(node)
        if node == target:
            return _route(topology, nodes, links)
        for neighbour, link in adjacency[node]:
            if neighbour in settled or neighbour in banned_nodes or link in banned_links:
                continue
            step = (km + topology.links[link].km, hops + 1, (*nodes, neighbour), (*links, link))
            heapq.heappush(frontier, step)
    return None


def k_shortest_paths(topology: Topology, source: int, target: int, k: int) -> tuple[Route, ...]:
    """Return up to ``k`` loop-free routes from ``source`` to ``target``, shortest first."""
    adjacency = topology.adjacency()
    nothing: frozenset[int] = frozenset()
    first = _dijkstra(
        topology, adjacency, source, target, banned_nodes=nothing, banned_links=nothing
    )
    if first is None:
        return ()
    found = [first]
    seen = {first.nodes}
    candidates: list[tuple[tuple[float, int, tuple[int, ...]], Route]] = []
    while len(found) < k:
        previous = found[-1]
        for spur_index in range(len(previous.nodes) - 1):
            root_nodes = previous.nodes[: spur_index + 1]
            banned_links = frozenset(
                route.links[spur_index]
                for route in found
                if route.nodes[: spur_index + 1] == root_nodes
            )
            spur = _dijkstra(
                topology, adjacency, root_nodes[-1], target,
                banned_nodes=frozenset(root_nodes[:-1]), banned_links=banned_links,
            )
            if spur is None:
                continue
            nodes = root_nodes[:-1] + spur.nodes
            if nodes in seen:
                continue
            seen.add(nodes)
            route = _route(topology, nodes, previous.links[:spur_index] + spur.links)
            heapq.heappush(candidates, (_sort_key(route), route))
        if not candidates:
            break
        found.append(heapq.heappop(candidates)[1])
    return tuple(found)


@lru_cache(maxsize=8)
def all_pairs_paths(topology: Topology, k: int) -> dict[tuple[int, int], tuple[Route, ...]]:
    """The ``k`` shortest routes of every ordered node pair (computed once per topology and k)."""
    return {
        (source, target): k_shortest_paths(topology, source, target, k)
        for source in range(topology.num_nodes)
        for target in range(topology.num_nodes)
        if source != target
    }


def longest_route_km(table: dict[tuple[int, int], tuple[Route, ...]]) -> float:
    """Length of the longest route in a path table (the observation's length scale)."""
    return max(route.km for routes in table.values() for route in routes)
