"""An observation's bytes, layout and digest, as the env worker keeps and compares them.

Part of the env worker (standard library and the target's numpy only; Python
>= 3.9). An observation (one array, or a nested dict/tuple of them) is kept as
its raw bytes and a shared *layout* (per leaf: path, dtype, shape, size):
flat lists of bytes and repeated references to one layout object allocate
nothing the garbage collector tracks, so an episode's thousands of kept steps
never trigger its collections (per-step dicts of leaves did, by a third of the
episode's time). Digests are computed once the episode is over, and not at
all on steps where every env of the call agrees (:data:`SAME`).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Dict, List, Optional, Tuple

# How an observation's bytes split into leaves: per leaf (path, dtype, shape,
# nbytes). One shared tuple per distinct layout (see :func:`_layout`).
Layout = Tuple[Tuple[Tuple[Any, ...], str, Tuple[int, ...], int], ...]

_HEADERS: Dict[Any, bytes] = {}
_LAYOUTS: Dict[Layout, Layout] = {}
_ARRAY_LAYOUTS: Dict[Any, Layout] = {}  # (dtype, shape) of a single array -> its layout
_SEEDED: Dict[Layout, Any] = {}  # single-leaf layout -> sha1 already fed its header
NDARRAY: List[Any] = [None]


def _ndarray(tools: Any) -> Any:
    NDARRAY[0] = tools._np().ndarray
    return NDARRAY[0]


def _header(path: Tuple[Any, ...], dtype: str, shape: Tuple[int, ...]) -> bytes:
    key = (path, dtype, shape)
    found = _HEADERS.get(key)
    if found is None:
        found = _HEADERS[key] = json.dumps([list(path), dtype, list(shape)]).encode()
    return found


def _layout(key: Layout) -> Layout:
    """The one shared tuple equal to ``key`` (every step of an episode keeps the same object)."""
    return _LAYOUTS.setdefault(key, key)


def _leaves(tools: Any, value: Any, path: Tuple[Any, ...], out: List[Any]) -> None:
    """(path, array) of every leaf of a nested dict/tuple, in ``encode_tree``'s order."""
    if isinstance(value, dict):
        for key in value:
            _leaves(tools, value[key], (*path, key), out)
    elif isinstance(value, (tuple, list)):
        for index, item in enumerate(value):
            _leaves(tools, item, (*path, index), out)
    else:
        out.append((path, tools._np().asarray(value)))  # tobytes() is C order, as encode_tree's


def flatten(tools: Any, value: Any) -> Tuple[Layout, bytes]:
    """(layout, raw bytes) of an observation or mask; fast for one array."""
    if isinstance(value, NDARRAY[0] or _ndarray(tools)):
        data = value.tobytes()
        key = (value.dtype, value.shape)  # cheaper to hash than the dtype's string
        layout = _ARRAY_LAYOUTS.get(key)
        if layout is None:
            layout = _layout((((), value.dtype.str, tuple(value.shape), len(data)),))
            _ARRAY_LAYOUTS[key] = layout
        return layout, data
    found: List[Any] = []
    _leaves(tools, value, (), found)
    leaves: List[Tuple[Tuple[Any, ...], str, Tuple[int, ...], int]] = []
    parts: List[bytes] = []
    for path, array in found:
        data = array.tobytes()
        leaves.append((path, array.dtype.str, tuple(array.shape), len(data)))
        parts.append(data)
    return _layout(tuple(leaves)), b"".join(parts)


def digest(layout: Layout, blob: bytes) -> str:
    """sha1 over each leaf's header (path, dtype, shape) and its bytes, in order."""
    if len(layout) == 1:
        seeded = _SEEDED.get(layout)
        if seeded is None:
            path, dtype, shape, _ = layout[0]
            seeded = _SEEDED[layout] = hashlib.sha1(_header(path, dtype, shape))
        hasher = seeded.copy()
        hasher.update(blob)
        return hasher.hexdigest()
    hasher, offset = hashlib.sha1(), 0
    for path, dtype, shape, size in layout:
        hasher.update(_header(path, dtype, shape))
        hasher.update(blob[offset : offset + size])
        offset += size
    return hasher.hexdigest()


SAME = "="  # the digest of a step on which every env of one call has the same bytes


def digests(layouts: List[List[Any]], blobs: List[List[bytes]]) -> List[List[Optional[str]]]:
    """Per env, per step: :data:`SAME` where all envs agree, else the real digest (None: none)."""
    found: List[List[Optional[str]]] = [[] for _ in layouts]
    for step in range(min(len(side) for side in layouts)):
        first_layout, first_blob = layouts[0][step], blobs[0][step]
        agree = len(layouts) > 1 and all(
            layout[step] is first_layout and blob[step] == first_blob
            for layout, blob in zip(layouts[1:], blobs[1:])
        )
        for index, out in enumerate(found):
            layout = layouts[index][step]
            if layout is None:
                out.append(None)
            else:
                out.append(SAME if agree else digest(layout, blobs[index][step]))
    for index, out in enumerate(found):  # an env that stepped further alone (the others ended)
        for step in range(len(out), len(layouts[index])):
            layout = layouts[index][step]
            out.append(None if layout is None else digest(layout, blobs[index][step]))
    return found


def wire(layout: Layout, blob: bytes) -> List[Dict[str, Any]]:
    """Kept bytes as leaves in the protocol's form (as ``envworker.encode_tree`` writes them)."""
    import base64

    leaves, offset = [], 0
    for path, dtype, shape, size in layout:
        data = blob[offset : offset + size]
        offset += size
        leaves.append(
            {
                "path": list(path),
                "dtype": dtype,
                "shape": list(shape),
                "b64": base64.b64encode(data).decode("ascii"),
            }
        )
    return leaves
