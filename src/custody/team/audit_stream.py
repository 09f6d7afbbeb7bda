"""The streaming half of `custody team verify` (team/audit.py): each leaf parsed
and its officer's signature checked, a batch at a time on every core, the next
batch while the caller walks this one; and the recomputed tree compared with the
stored nodes a batch at a time. Pure: the leaves and a node fetcher are given.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from custody.base.batches import map_batches
from custody.base.signing import signature_is_valid
from custody.team.leaves import LeafError, parse_leaf
from custody.tlog import merkle
from custody.tlog.entries import raw_public_key

PARALLEL_THRESHOLD = 4096  # a batch smaller than this is checked in this process
BATCH_LEAVES = 4096  # leaves checked at a time (two batches in flight)
NODE_BATCH = 32768  # stored tree nodes asked for at a time


@dataclass(frozen=True)
class Checked:
    """What a worker learnt about one leaf (picklable)."""

    error: str | None
    kind: str = ""
    ledger: str = ""
    columns: tuple[Any, ...] = ()
    index: int = -1
    prev: str | None = None
    raw_key: bytes = b""
    name: str = ""
    signature_ok: bool = False
    entry_hash: bytes = b""
    checkpoint: bytes | None = None
    reason: str | None = None
    detail: str | None = None


def check_batch(batch: list[bytes]) -> list[Checked]:
    out = []
    for data in batch:
        try:
            leaf = parse_leaf(data)
        except LeafError as err:
            out.append(Checked(str(err)))
            continue
        e = leaf.parsed_entry
        if e is None:
            out.append(
                Checked(
                    None,
                    leaf.kind,
                    leaf.ledger,
                    leaf.columns(),
                    checkpoint=leaf.checkpoint,
                    reason=leaf.reason,
                    detail=leaf.detail,
                )
            )
            continue
        assert leaf.entry is not None and leaf.signature is not None
        out.append(
            Checked(
                None,
                leaf.kind,
                leaf.ledger,
                leaf.columns(),
                e.index,
                e.prev,
                raw_public_key(e.actor_key),
                e.actor_name,
                signature_is_valid(e.actor_key, leaf.signature, leaf.entry),
                merkle.leaf_hash(leaf.entry),
            )
        )
    return out


def checked_leaves(leaves: Iterable[StoredLeaf]) -> Iterator[tuple[StoredLeaf, Checked]]:
    """Each leaf with what parsing it and checking its signature found, in order,
    over every core (base/batches.py)."""
    return map_batches(
        check_batch,
        leaves,
        input_of=lambda row: row.data,
        batch=BATCH_LEAVES,
        threshold=PARALLEL_THRESHOLD,
    )


class TreeCheck:
    """Compares the tree recomputed from the leaves with the stored nodes, asking
    the database for them a batch at a time."""

    def __init__(
        self, fetch: Callable[[list[tuple[int, int]]], dict[tuple[int, int], bytes]], bad: Any
    ) -> None:
        self._fetch = fetch
        self._bad = bad
        self._computed: list[tuple[int, int, bytes]] = []
        self._leaves: list[tuple[int, bytes, str]] = []
        self.found = 0  # computed nodes that are stored

    def node(self, level: int, index: int, value: bytes) -> None:
        self._computed.append((level, index, value))

    def leaf(self, seq: int, value: bytes, here: str) -> None:
        """The stored leaf node at `seq` must be the hash of the leaf stored there."""
        self._leaves.append((seq, value, here))
        if len(self._computed) + len(self._leaves) >= NODE_BATCH:
            self.flush()

    def flush(self) -> None:
        coords = {(lv, ix) for lv, ix, _ in self._computed}
        coords.update((0, seq) for seq, _, _ in self._leaves)
        stored = self._fetch(sorted(coords))
        for seq, value, here in self._leaves:
            if stored.get((0, seq)) != value:
                self._bad(
                    here, "moved_leaf", "not the leaf the tree was built with: edited or moved"
                )
        for level, index, value in self._computed:
            have = stored.get((level, index))
            if have is not None:
                self.found += 1
            if level > 0 and have != value:
                self._bad(
                    f"tree node {(level, index)}",
                    "tree_mismatch",
                    "stored tree node disagrees with the leaves",
                )
        self._computed.clear()
        self._leaves.clear()


@dataclass(frozen=True)
class StoredLeaf:
    seq: int
    leaf_hash: bytes
    data: bytes
    columns: tuple[Any, ...]  # kind, ledger, entry_index, case_id, bundle_id as stored
