"""The RFC 9162 tree over a bundle's commitment leaves, built on the ledger's
Merkle functions (custody.tlog.merkle): the root, and inclusion proofs in
O(log n) each from the perfect subtrees kept level by level; and the root alone of
leaves that arrive one at a time (StreamingRoot: one hash per level, never the
leaves), for ingest and verify, which need no proofs."""

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


class StreamingRoot:
    """Append leaf hashes; `root` at any time."""

    def __init__(self) -> None:
        self._stack: list[tuple[int, bytes]] = []  # (size, hash), sizes decreasing
        self.size = 0

    def append(self, leaf_hash: bytes) -> None:
        size, node = 1, leaf_hash
        while self._stack and self._stack[-1][0] == size:
            left_size, left = self._stack.pop()
            size, node = left_size + size, merkle.node_hash(left, node)
        self._stack.append((size, node))
        self.size += 1

    @property
    def root(self) -> bytes:
        if not self._stack:
            return merkle.EMPTY_ROOT
        node = self._stack[-1][1]
        for _, left in reversed(self._stack[:-1]):
            node = merkle.node_hash(left, node)
        return node


def proves(leaf: bytes, index: int, size: int, path: Sequence[bytes], root: bytes) -> bool:
    """Whether `path` proves the leaf bytes `leaf` at `index` under `root`."""
    return merkle.verify_inclusion(merkle.leaf_hash(leaf), index, size, path, root)
