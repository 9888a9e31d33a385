"""Observation digests, as the recorded parity baselines hold them.

:func:`obs_digest` is the digest :mod:`runbook_lib.parity.baseline` writes into
a baseline and checks a replay against. The env checks themselves run in the
target's interpreter (:mod:`runbook_lib.target.worker.envprobes`).
"""

from __future__ import annotations

import hashlib
from typing import Any

DIGEST_HEX = 16  # 64 bits of sha256: plenty to tell two observations apart


def obs_digest(obs: Any) -> str:
    """The first :data:`DIGEST_HEX` hex digits of the sha256 of an observation's bytes."""
    import numpy as np

    data = np.ascontiguousarray(obs).tobytes()
    return hashlib.sha256(data).hexdigest()[:DIGEST_HEX]
