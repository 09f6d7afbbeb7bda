"""RFC 9162 Merkle trees: hashes, proofs and their verification. Pure functions.

Leaf hash: SHA-256(0x00 || entry); node hash: SHA-256(0x01 || left || right).
Proofs are generated from a `subtree` accessor returning MTH(D[start:end]) so
that storage can answer from precomputed nodes in O(log n).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

Subtree = Callable[[int, int], bytes]


def leaf_hash(entry: bytes) -> bytes:
    """SHA-256(0x00 || entry)."""
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def largest_power_of_two_below(n: int) -> int:
    """The largest power of two strictly smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def root_from_leaves(leaves: Sequence[bytes]) -> bytes:
    """MTH of a list of leaf hashes (for tests and small trees)."""
    n = len(leaves)
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return leaves[0]
    k = largest_power_of_two_below(n)
    return node_hash(root_from_leaves(leaves[:k]), root_from_leaves(leaves[k:]))


def subtree_from_perfect_nodes(node: Callable[[int, int], bytes]) -> Subtree:
    """Build a subtree accessor from `node(level, index)`, which returns the
    hash of the perfect subtree covering leaves [index*2^level, (index+1)*2^level)."""

    def subtree(start: int, end: int) -> bytes:
        size = end - start
        if size & (size - 1) == 0 and start % size == 0:
            level = size.bit_length() - 1
            return node(level, start >> level)
        k = largest_power_of_two_below(size)
        return node_hash(subtree(start, start + k), subtree(start + k, end))

    return subtree


def inclusion_path(index: int, size: int, subtree: Subtree) -> list[bytes]:
    """PATH(m, D[n]) of RFC 9162 §2.1.3.1 for leaf `index` in a tree of `size`."""
    if not 0 <= index < size:
        raise ValueError("leaf index out of range")
    path: list[bytes] = []
    start, end = 0, size
    while end - start > 1:
        k = largest_power_of_two_below(end - start)
        if index < start + k:
            path.append(subtree(start + k, end))
            end = start + k
        else:
            path.append(subtree(start, start + k))
            start = start + k
    path.reverse()
    return path


def consistency_path(old_size: int, new_size: int, subtree: Subtree) -> list[bytes]:
    """PROOF(m, D[n]) of RFC 9162 §2.1.4.1."""
    if not 0 < old_size <= new_size:
        raise ValueError("sizes out of range")
    if old_size == new_size:
        return []
    proof: list[bytes] = []

    def sub(m: int, start: int, end: int, complete: bool) -> None:
        n = end - start
        if m == n:
            if not complete:
                proof.append(subtree(start, end))
            return
        k = largest_power_of_two_below(n)
        if m <= k:
            sub(m, start, start + k, complete)
            proof.append(subtree(start + k, end))
        else:
            sub(m - k, start + k, end, False)
            proof.append(subtree(start, start + k))

    sub(old_size, 0, new_size, True)
    return proof


def verify_inclusion(
    leaf: bytes, index: int, size: int, path: Sequence[bytes], root: bytes
) -> bool:
    """RFC 9162 §2.1.3.2: True when `path` proves `leaf` at `index` in the tree
    of `size` whose root is `root`. Checks index < size and the path length."""
    if not 0 <= index < size or any(len(p) != HASH_SIZE for p in path):
        return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, path: Sequence[bytes]
) -> bool:
    """RFC 9162 §2.1.4.2: True when `path` proves the tree of `new_size` with
    `new_root` extends the tree of `old_size` with `old_root`."""
    if old_size < 0 or new_size < old_size or any(len(p) != HASH_SIZE for p in path):
        return False
    if old_size == new_size:
        return not path and old_root == new_root
    if old_size == 0:
        return not path
    if not path:
        return False
    proof = list(path)
    if old_size & (old_size - 1) == 0:
        proof.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == old_root and sr == new_root


class CompactRange:
    """The roots of the perfect subtrees covering leaves [0, n): appending a
    leaf costs O(log n) and the root is available at any size. Used to
    recompute a whole ledger in one pass."""

    def __init__(self) -> None:
        self.size = 0
        self._stack: list[tuple[int, bytes]] = []  # (level, hash), levels decreasing

    @staticmethod
    def frontier(size: int) -> list[tuple[int, int]]:
        """The (level, index) of the perfect nodes covering leaves [0, size),
        largest first: all `from_frontier` needs to resume appending."""
        out, start = [], 0
        for level in range(size.bit_length() - 1, -1, -1):
            if size & (1 << level):
                out.append((level, start >> level))
                start += 1 << level
        return out

    @classmethod
    def from_frontier(cls, size: int, node: Callable[[int, int], bytes]) -> CompactRange:
        """The range of a tree of `size` leaves, rebuilt from its O(log n)
        frontier nodes read through `node(level, index)`."""
        compact = cls()
        compact._stack = [(level, node(level, index)) for level, index in cls.frontier(size)]
        compact.size = size
        return compact

    def append(self, leaf: bytes) -> list[tuple[int, int, bytes]]:
        """Add a leaf; returns the perfect nodes (level, index, hash) it completes."""
        completed = [(0, self.size, leaf)]
        level, h = 0, leaf
        index = self.size
        while self._stack and self._stack[-1][0] == level:
            _, left = self._stack.pop()
            h = node_hash(left, h)
            level += 1
            index >>= 1
            completed.append((level, index, h))
        self._stack.append((level, h))
        self.size += 1
        return completed

    def root(self) -> bytes:
        if not self._stack:
            return EMPTY_ROOT
        h = self._stack[-1][1]
        for _, left in reversed(self._stack[:-1]):
            h = node_hash(left, h)
        return h
