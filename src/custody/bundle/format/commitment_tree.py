"""The RFC 9162 tree over a bundle's commitment leaves, built on the ledger's
Merkle functions (custody.tlog.merkle): the root, and inclusion proofs in
O(log n) each from the perfect subtrees kept level by level."""

from __future__ import annotations

from collections.abc import Sequence

from custody.tlog import merkle


class CommitmentTree:
    """Leaf hashes and every perfect subtree above them."""

    def __init__(self, leaf_hashes: Sequence[bytes]) -> None:
        self.size = len(leaf_hashes)
        levels = [list(leaf_hashes)]
        while len(levels[-1]) > 1:
            below = levels[-1]
            levels.append(
                [merkle.node_hash(below[i], below[i + 1]) for i in range(0, len(below) - 1, 2)]
            )
        self._levels = levels
        self._subtree = merkle.subtree_from_perfect_nodes(lambda level, i: self._levels[level][i])

    @property
    def root(self) -> bytes:
        return self._subtree(0, self.size) if self.size else merkle.EMPTY_ROOT

    def proof(self, index: int) -> list[bytes]:
        return merkle.inclusion_path(index, self.size, self._subtree)


def proves(leaf: bytes, index: int, size: int, path: Sequence[bytes], root: bytes) -> bool:
    """Whether `path` proves the leaf bytes `leaf` at `index` under `root`."""
    return merkle.verify_inclusion(merkle.leaf_hash(leaf), index, size, path, root)
