"""The ledger's rows as values: one stored entry, and what one append produced
(the entry, its signature and its inclusion proof at the new tree size). The
store (custody.io.ledger_store) makes them; checks, proofs and bundles read them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Appended:
    """What an append produced: the entry and its proof at the new tree size."""

    index: int
    entry: bytes
    signature: bytes
    tree_size: int
    checkpoint: bytes
    inclusion_proof: tuple[bytes, ...]
    origin: str


@dataclass(frozen=True)
class StoredEntry:
    """One row of the ledger as stored."""

    position: int  # 0-based row order
    index: int  # the idx column
    entry: bytes
    signature: bytes
