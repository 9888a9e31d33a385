"""Distance-adaptive modulation: the longer the path, the fewer bits per symbol.

A request's bit rate is carried on contiguous 12.5 GHz frequency slots; each
slot carries ``bits_per_symbol x 12.5`` Gb/s, so a long path needs more slots
for the same demand. Paths longer than the most robust format's reach cannot
carry the request at all.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

SLOT_GBAUD = 12.5


@dataclass(frozen=True)
class Modulation:
    """A modulation format and the longest path it reaches."""

    name: str
    bits_per_symbol: int
    reach_km: float


# Most efficient first: the first format that reaches a path is used.
MODULATIONS: tuple[Modulation, ...] = (
    Modulation("16QAM", 4, 1200.0),
    Modulation("8QAM", 3, 2400.0),
    Modulation("QPSK", 2, 4800.0),
    Modulation("BPSK", 1, 9600.0),
)


def modulation_for(km: float) -> Modulation | None:
    """The most efficient format that reaches ``km``, or None when none does."""
    for modulation in MODULATIONS:
        if km <= modulation.reach_km:
            return modulation
    return None


def slots_needed(bitrate_gbps: float, km: float, guard_slots: int) -> int | None:
    """Slots (guard band included) a demand needs on a path of ``km``; None if unreachable."""
    modulation = modulation_for(km)
    if modulation is None:
        return None
    return math.ceil(bitrate_gbps / (modulation.bits_per_symbol * SLOT_GBAUD)) + guard_slots
