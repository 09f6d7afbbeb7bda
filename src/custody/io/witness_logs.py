"""The logs whose checkpoints witnesses cosign: what submitting needs from one
(`WitnessedLog`), and an officer's ledger as one. The team log's is in
ops/team_witnessing.py."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from custody.base.home import ledger_dir
from custody.io.ledger_store import Ledger
from custody.tlog.entries import EntryError, parse_entry


class WitnessedLog(Protocol):
    """What submitting to witnesses needs from a log: its checkpoints and tree,
    and a place to keep cosignatures and what each witness holds."""

    @property
    def noun(self) -> str:
        """How messages name the log: "ledger", "team log"."""
        ...

    @property
    def unit(self) -> str:
        """What its size counts: "entries", "leaves"."""
        ...

    @property
    def key_file_hint(self) -> str:
        """The key file a witness's operator accepts the log's checkpoints by."""
        ...

    @property
    def where(self) -> str:
        """Where the log is kept, for messages."""
        ...

    @property
    def forks_dir(self) -> Path: ...

    def latest_checkpoint(self) -> bytes | None: ...

    def consistency_proof(self, old_size: int, new_size: int) -> list[bytes]: ...

    def witness_size(self, url: str) -> int: ...

    def set_witness_size(self, url: str, size: int) -> None: ...

    def cosigned_checkpoint(self, size: int) -> bytes | None: ...

    def store_cosigned(self, size: int, merge: Callable[[bytes | None], bytes]) -> None: ...

    def signing_key(self, size: int) -> Ed25519PublicKey | None:
        """The key that must sign the checkpoint of `size` (None: unknown)."""
        ...


class LedgerLog:
    """An officer's ledger as a WitnessedLog."""

    noun = "ledger"
    unit = "entries"
    key_file_hint = "YOUR.pub"

    def __init__(self, home: Path, ledger: Ledger) -> None:
        self._ledger = ledger
        self.forks_dir = ledger_dir(home) / "forks"
        self.where = str(ledger.path)

    def latest_checkpoint(self) -> bytes | None:
        return self._ledger.latest_checkpoint()

    def consistency_proof(self, old_size: int, new_size: int) -> list[bytes]:
        return self._ledger.consistency_proof(old_size, new_size)

    def witness_size(self, url: str) -> int:
        return self._ledger.witness_size(url)

    def set_witness_size(self, url: str, size: int) -> None:
        self._ledger.set_witness_size(url, size)

    def cosigned_checkpoint(self, size: int) -> bytes | None:
        return self._ledger.cosigned_checkpoint(size)

    def store_cosigned(self, size: int, merge: Callable[[bytes | None], bytes]) -> None:
        self._ledger.store_cosigned(size, merge)

    def signing_key(self, size: int) -> Ed25519PublicKey | None:
        """The key that made the last entry the checkpoint covers."""
        entry = self._ledger.entry_bytes(size - 1) if size else None
        try:
            return parse_entry(entry).actor_key if entry is not None else None
        except EntryError:
            return None
