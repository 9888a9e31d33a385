"""Network topologies shipped as JSON data files (nodes, links, lengths in km)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent / "data"


class TopologyError(ValueError):
    """A topology file is missing or malformed."""


@dataclass(frozen=True)
class Link:
    """A bidirectional fibre link between two node indices."""

    a: int
    b: int
    km: float


@dataclass(frozen=True)
class Topology:
    """Nodes (by name) and bidirectional links; a link's index is its position in ``links``."""

    name: str
    nodes: tuple[str, ...]
    links: tuple[Link, ...]

    @property
    def num_nodes(self) -> int:
        """Number of nodes."""
        return len(self.nodes)

    def adjacency(self) -> dict[int, list[tuple[int, int]]]:
        """Map each node to its ``(neighbour, link index)`` pairs, in link order."""
        adjacent: dict[int, list[tuple[int, int]]] = {n: [] for n in range(self.num_nodes)}
        for index, link in enumerate(self.links):
            adjacent[link.a].append((link.b, index))
            adjacent[link.b].append((link.a, index))
        return adjacent


def resolve_topology_file(name_or_path: str) -> Path:
    """Return the file of a shipped topology name (``nsfnet``) or of a path to a JSON file."""
    candidate = Path(name_or_path)
    if candidate.suffix == ".json":
        return candidate
    return DATA_DIR / f"{name_or_path}.json"


@lru_cache(maxsize=8)
def load_topology(name_or_path: str) -> Topology:
    """Load and validate a topology by shipped name or JSON path.

    Raises:
        TopologyError: the file is missing, not JSON, or its links name unknown
            nodes, repeat a node pair or have a non-positive length.
    """
    path = resolve_topology_file(name_or_path)
    if not path.is_file():
        shipped = ", ".join(sorted(p.stem for p in DATA_DIR.glob("*.json")))
        raise TopologyError(
            f"topology {name_or_path!r}: no file {path}; use a shipped name ({shipped}) "
            "or the path of a .json file"
        )
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        nodes = tuple(str(n) for n in raw["nodes"])
        index = {name: i for i, name in enumerate(nodes)}
        links = tuple(_parse_link(entry, index) for entry in raw["links"])
    except (ValueError, KeyError, TypeError) as err:
        raise TopologyError(f"topology file {path} is malformed: {err}") from err
    _check_unique(links, path)
    return Topology(name=str(raw.get("name", path.stem)), nodes=nodes, links=links)


def _parse_link(entry: dict[str, object], index: dict[str, int]) -> Link:
    a, b, km = str(entry["a"]), str(entry["b"]), float(str(entry["km"]))
    for end in (a, b):
        if end not in index:
            raise ValueError(f"link {a}-{b} names unknown node {end!r}")
    if a == b or km <= 0:
        raise ValueError(f"link {a}-{b} must join two nodes with a positive length, got {km} km")
    return Link(index[a], index[b], km)


def _check_unique(links: tuple[Link, ...], path: Path) -> None:
    seen: set[frozenset[int]] = set()
    for link in links:
        pair = frozenset((link.a, link.b))
        if pair in seen:
            raise TopologyError(f"topology file {path} repeats the link {link.a}-{link.b}")
        seen.add(pair)
