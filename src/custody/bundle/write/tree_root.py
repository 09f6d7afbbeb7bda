"""The root of an RFC 9162 Merkle tree over leaves that arrive one at a time,
holding one hash per level (the perfect subtrees so far), never the leaves: the
commitments of a million files cost a few hundred bytes. Gives the same root as
bundle/format/commitment_tree.CommitmentTree, which holds every level to make
proofs (disclosure needs those; ingest only the root)."""

from __future__ import annotations

from custody.tlog import merkle


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
