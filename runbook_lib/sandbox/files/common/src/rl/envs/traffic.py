"""Dynamic traffic: Poisson arrivals, exponential holding times, uniform node pairs.

Both environments draw every request through :class:`TrafficGenerator`, so the
same seed gives the same request sequence whichever environment consumes it.
The draw order per request is fixed: inter-arrival time, holding time, source,
destination, bit rate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Request:
    """One connection request."""

    index: int
    source: int
    target: int
    bitrate: float
    arrival: float
    holding: float

    @property
    def departure(self) -> float:
        """When the connection, if admitted, releases its spectrum."""
        return self.arrival + self.holding


class TrafficGenerator:
    """Draws requests at a load of ``erlang`` (arrival rate x mean holding time)."""

    def __init__(
        self,
        rng: np.random.Generator,
        num_nodes: int,
        erlang: float,
        holding_time: float,
        bitrates: tuple[float, ...],
    ) -> None:
        self._rng = rng
        self._num_nodes = num_nodes
        self._mean_interarrival = holding_time / erlang
        self._holding_time = holding_time
        self._bitrates = bitrates
        self._clock = 0.0
        self._count = 0

    def next_request(self) -> Request:
        """Draw the next request and advance the clock to its arrival."""
        rng = self._rng
        self._clock += float(rng.exponential(self._mean_interarrival))
        holding = float(rng.exponential(self._holding_time))
        source = int(rng.integers(self._num_nodes))
        target = int(rng.integers(self._num_nodes - 1))
        if target >= source:
            target += 1
        bitrate = self._bitrates[int(rng.integers(len(self._bitrates)))]
        request = Request(self._count, source, target, bitrate, self._clock, holding)
        self._count += 1
        return request
