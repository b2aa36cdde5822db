"""A Merkle tree of payments that OpenZeppelin's ``MerkleProof`` verifies on chain.

Each inner node is the keccak of its two children in ascending order ("commutative" hashing), so a
proof is just the list of sibling hashes from a leaf up. A node without a sibling at the end of an
odd level moves up unchanged, and its proof simply has no element for that level. Leaves are
hashed twice, so no 64-byte leaf can pass for an inner node.
"""

from __future__ import annotations

from collections.abc import Sequence

from settlement.domain.eip712 import keccak256, word_address, word_bytes32, word_uint


def payment_leaf(payment_id: bytes, payer: str, payee: str, value_base_units: int) -> bytes:
    """keccak256(keccak256(abi.encode(paymentId, payer, payee, value))), as NetSettlement hashes."""
    encoded = (
        word_bytes32(payment_id)
        + word_address(payer)
        + word_address(payee)
        + word_uint(value_base_units)
    )
    return keccak256(keccak256(encoded))


def hash_pair(left: bytes, right: bytes) -> bytes:
    return keccak256(left + right) if left < right else keccak256(right + left)


class MerkleTree:
    """All levels of the tree, leaves first, so any leaf's proof is cheap to read off."""

    def __init__(self, leaves: Sequence[bytes]) -> None:
        assert leaves, "a Merkle tree needs at least one leaf"
        self._levels: list[list[bytes]] = [list(leaves)]
        while len(self._levels[-1]) > 1:
            self._levels.append(_parent_level(self._levels[-1]))

    @property
    def root(self) -> bytes:
        return self._levels[-1][0]

    def __len__(self) -> int:
        return len(self._levels[0])

    def proof(self, index: int) -> list[bytes]:
        """Sibling hashes from leaf ``index`` to the root."""
        if not 0 <= index < len(self):
            raise IndexError(f"leaf {index} is not in a tree of {len(self)} leaves")
        siblings: list[bytes] = []
        for level in self._levels[:-1]:
            sibling = index ^ 1
            if sibling < len(level):
                siblings.append(level[sibling])
            index //= 2
        return siblings


def _parent_level(level: list[bytes]) -> list[bytes]:
    parents = [hash_pair(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
    if len(level) % 2:
        parents.append(level[-1])
    return parents


def verify_proof(leaf: bytes, proof: Sequence[bytes], root: bytes) -> bool:
    computed = leaf
    for sibling in proof:
        computed = hash_pair(computed, sibling)
    return computed == root
