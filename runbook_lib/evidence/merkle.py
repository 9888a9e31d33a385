"""RFC 6962 Merkle tree hashing, inclusion and consistency proofs (RFC 9162 section 2.1).

Pure functions over a list of leaf hashes; the transparency log that keeps
the leaves is built on them. Leaves are hashed with a 0x00 prefix and
interior nodes with 0x01, so a leaf can never pass for a node.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence


def leaf_hash(data: bytes) -> bytes:
    """``SHA-256(0x00 || data)``."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """``SHA-256(0x01 || left || right)``."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than ``n`` (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def root(leaves: Sequence[bytes]) -> bytes:
    """The Merkle tree hash of the leaf hashes ``leaves``."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = _split(len(leaves))
    return node_hash(root(leaves[:k]), root(leaves[k:]))


def extend_edge(edge: Sequence[bytes], size: int, leaf: bytes) -> list[bytes]:
    """The right edge of a tree of ``size`` leaves once leaf hash ``leaf`` is appended.

    A tree's right edge is the roots of the complete subtrees it is made of,
    largest first: one per set bit of its size (see :func:`right_edge`). An
    append merges the new leaf with the smallest ones, as a binary counter
    carries, so it costs O(log size) hashes, never the leaves again.
    """
    grown, value = list(edge), leaf
    while size & 1:
        value = node_hash(grown.pop(), value)
        size >>= 1
    grown.append(value)
    return grown


def right_edge(leaves: Sequence[bytes]) -> list[bytes]:
    """The right edge of the tree of ``leaves`` (see :func:`extend_edge`), from all of them."""
    edge: list[bytes] = []
    start, rest = 0, len(leaves)
    while rest:
        width = 1 << (rest.bit_length() - 1)
        edge.append(root(leaves[start : start + width]))
        start, rest = start + width, rest - width
    return edge


def edge_root(edge: Sequence[bytes]) -> bytes:
    """The Merkle tree hash of the tree whose right edge is ``edge``."""
    if not edge:
        return hashlib.sha256(b"").digest()
    value = edge[-1]
    for subtree in reversed(edge[:-1]):
        value = node_hash(subtree, value)
    return value


def last_leaf_proof(edge: Sequence[bytes]) -> list[bytes]:
    """The audit path of a leaf appended to the tree whose right edge is ``edge``.

    It is that edge, smallest subtree first: what :func:`inclusion_proof` gives
    for the last leaf of the tree one leaf larger.
    """
    return list(reversed(edge))


def inclusion_proof(index: int, leaves: Sequence[bytes]) -> list[bytes]:
    """The audit path of leaf ``index`` in the tree of ``leaves``."""
    if len(leaves) <= 1:
        return []
    k = _split(len(leaves))
    if index < k:
        return [*inclusion_proof(index, leaves[:k]), root(leaves[k:])]
    return [*inclusion_proof(index - k, leaves[k:]), root(leaves[:k])]


def verify_inclusion(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes], expected_root: bytes
) -> bool:
    """Whether ``proof`` shows leaf hash ``leaf`` at ``index`` of the tree ``expected_root``."""
    if index >= size:
        return False
    fn, sn, value = index, size - 1, leaf
    for sibling in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            value = node_hash(sibling, value)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            value = node_hash(value, sibling)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and value == expected_root


def _subproof(m: int, leaves: Sequence[bytes], complete: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if complete else [root(leaves)]
    k = _split(n)
    if m <= k:
        return [*_subproof(m, leaves[:k], complete), root(leaves[k:])]
    return [*_subproof(m - k, leaves[k:], False), root(leaves[:k])]


def consistency_proof(old_size: int, leaves: Sequence[bytes]) -> list[bytes]:
    """The proof that the tree of ``old_size`` leaves is a prefix of the tree of ``leaves``."""
    if old_size == 0 or old_size >= len(leaves):
        return []
    return _subproof(old_size, leaves, True)


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """Whether ``proof`` shows the tree ``old_root`` is a prefix of the tree ``new_root``."""
    if old_size > new_size:
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    if old_size == 0:
        return True  # the empty tree is a prefix of every tree
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # a complete subtree: its root starts the path
        path.insert(0, old_root)
    if not path:
        return False
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    first = second = path[0]
    for value in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            first, second = node_hash(value, first), node_hash(value, second)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            second = node_hash(second, value)
        fn, sn = fn >> 1, sn >> 1
    return first == old_root and second == new_root and sn == 0
