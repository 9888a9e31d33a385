"""RFC 6962 hashing and proofs, checked exhaustively on small trees."""

from __future__ import annotations

import hashlib

from runbook_lib.evidence import merkle


def _leaves(n: int) -> list[bytes]:
    return [merkle.leaf_hash(f"seal {i}".encode()) for i in range(n)]


def test_hashing_follows_rfc6962() -> None:
    assert merkle.root([]).hex() == hashlib.sha256(b"").hexdigest()
    assert merkle.leaf_hash(b"") == hashlib.sha256(b"\x00").digest()
    a, b, c = _leaves(3)
    assert merkle.root([a, b, c]) == merkle.node_hash(merkle.node_hash(a, b), c)


def test_every_inclusion_proof_verifies_and_a_wrong_leaf_does_not() -> None:
    for size in range(1, 18):
        leaves = _leaves(size)
        top = merkle.root(leaves)
        for index in range(size):
            proof = merkle.inclusion_proof(index, leaves)
            assert merkle.verify_inclusion(index, size, leaves[index], proof, top)
            assert not merkle.verify_inclusion(index, size, merkle.leaf_hash(b"x"), proof, top)


def test_every_consistency_proof_verifies_and_a_rewritten_history_does_not() -> None:
    for new in range(1, 18):
        leaves = _leaves(new)
        for old in range(1, new + 1):
            proof = merkle.consistency_proof(old, leaves)
            old_root = merkle.root(leaves[:old])
            assert merkle.verify_consistency(old, new, old_root, merkle.root(leaves), proof)
            forged = [merkle.leaf_hash(b"forged"), *leaves[1:]]
            assert not merkle.verify_consistency(
                old, new, old_root, merkle.root(forged), merkle.consistency_proof(old, forged)
            )


def test_the_right_edge_grows_one_leaf_at_a_time_as_the_whole_tree_says() -> None:
    edge: list[bytes] = []
    leaves = _leaves(70)
    for size, leaf in enumerate(leaves):
        assert merkle.last_leaf_proof(edge) == merkle.inclusion_proof(size, leaves[: size + 1])
        edge = merkle.extend_edge(edge, size, leaf)
        assert edge == merkle.right_edge(leaves[: size + 1])
        assert len(edge) == (size + 1).bit_count()
        assert merkle.edge_root(edge) == merkle.root(leaves[: size + 1])
    assert merkle.edge_root([]) == merkle.root([])
