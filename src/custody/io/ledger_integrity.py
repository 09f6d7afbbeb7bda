"""The check every append makes first: does the ledger still hold what its signed
checkpoint says it holds?

`custody ledger verify` checks everything, signatures of every entry included,
and takes seconds on a large ledger. Before an append, and before `ledger
checkpoint` prints anything, custody runs this shorter check instead
(docs/ledger.md, "Before every append"):

- the Merkle root is recomputed from the bytes of every entry (SHA-256 only,
  no signatures: about 1.5 µs an entry) and must equal the root of the signed
  checkpoint, which must be signed by the key that made the last entry. Any
  byte of any entry edited, an entry deleted, inserted or moved, is caught
  here: nobody without that key can sign a checkpoint for another tree.
- the stored tree nodes that the next append and every new proof start from
  must give the same root;
- the newest entries are parsed and their signatures, place and chain checked;
- checkpoint.txt, outside the database, must not sign more entries than the
  ledger holds, and must match it at its own size.

There is no cheaper way to catch an edit of any entry: whatever is checked in
O(log n) leaves most entries unread, and an entry that is not read can have
been changed. What only `ledger verify` finds: the signature of an older entry
(an edit there is already caught by the root), stored tree nodes off the
newest path (they would make proofs for older entries fail), and the
cosigned checkpoints.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from custody.base.errors import InputError
from custody.base.models import Problem
from custody.base.signing import signature_is_valid
from custody.ledger.rows import StoredEntry
from custody.tlog import merkle
from custody.tlog.entries import EntryError, ParsedEntry, parse_entry
from custody.tlog.note import Checkpoint, NoteError, checkpoint_signed_by, parse_checkpoint


class Ledger(Protocol):
    """What this check reads of the ledger store (custody.io.ledger_store.Ledger,
    which calls the check before every append): a protocol, so that the check
    does not import the store back."""

    checkpoint_file: Path

    @property
    def origin(self) -> str: ...
    def snapshot(self) -> AbstractContextManager[None]: ...
    def leaf_hashes(self) -> Iterator[tuple[int, int, bytes]]: ...
    def latest_checkpoint(self) -> bytes | None: ...
    def root(self, size: int) -> bytes: ...
    def entry(self, index: int) -> StoredEntry | None: ...
    def entry_bytes(self, index: int) -> bytes | None: ...
    def stored_leaf(self, index: int) -> bytes | None: ...


RECENT_ENTRIES = 8
"""How many of the newest entries have their signatures checked before an append."""

_Bad = Callable[[str, "str | None", str], None]


@dataclass(frozen=True)
class HeadCheck:
    """What the check before an append found.

    `checkpoint` is the latest signed checkpoint exactly as stored, set only
    when it was verified against every entry (None for an empty ledger or a
    damaged one)."""

    size: int
    problems: tuple[Problem, ...]
    checkpoint: bytes | None
    checkpoint_key: Ed25519PublicKey | None

    @property
    def intact(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        """The first problem, and how many more, in one line."""
        if not self.problems:
            return "intact"
        more = len(self.problems) - 1
        return self.problems[0].line() + (f" (and {more} more)" if more else "")


def check_head(ledger: Ledger) -> HeadCheck:
    """Check that the entries are those the latest signed checkpoint covers
    (see the module docstring). Never raises for tampering: every finding is a
    Problem named like those of `ledger verify`."""
    with ledger.snapshot():
        return _check_head(ledger)


def _check_head(ledger: Ledger) -> HeadCheck:
    problems: list[Problem] = []

    def bad(kind: str, where: str | None, detail: str) -> None:
        problems.append(Problem(kind, where, detail))

    outside = _parse(ledger.checkpoint_file, bad)
    compact = merkle.CompactRange()
    outside_root: bytes | None = None
    misplaced: int | None = None
    for position, index, leaf in ledger.leaf_hashes():
        if index != position and misplaced is None:
            misplaced = position
        compact.append(leaf)
        if outside is not None and compact.size == outside.size:
            outside_root = compact.root()
    size = compact.size
    if misplaced is not None:
        bad(
            "out_of_place",
            f"entry {misplaced}",
            "stored under another index: entries deleted or inserted",
        )
    root = compact.root()

    recent = _check_recent(ledger, size, bad)
    last_key = recent[-1].actor_key if recent and size else None

    verified: bytes | None = None
    note = ledger.latest_checkpoint()
    if note is None:
        if size > 0:
            bad("missing_checkpoint", "ledger checkpoint", "no signed checkpoint")
    else:
        cp = _parse_note(note, "ledger checkpoint", bad)
        if cp is not None and _matches(cp, ledger, size, root, last_key, "ledger checkpoint", bad):
            verified = note
        if cp is not None and size > 0:
            _check_stored_nodes(ledger, size, cp, bad)
    if outside is not None and outside.origin == ledger.origin:
        if outside.size > size:
            bad(
                "truncated",
                "checkpoint.txt",
                f"signed for {outside.size} entries but the ledger holds {size}: entries were "
                "removed, or the ledger was replaced by an older copy",
            )
        elif outside.size > 0 and outside_root != outside.root:
            bad(
                "checkpoint_mismatch",
                "checkpoint.txt",
                f"root hash for {outside.size} entries does not match the entries",
            )
    elif outside is not None:
        bad("bad_checkpoint", "checkpoint.txt", f"origin {outside.origin} is not this ledger's")
    return HeadCheck(
        size=size,
        problems=tuple(problems),
        checkpoint=verified if not problems else None,
        checkpoint_key=last_key if not problems else None,
    )


def _parse(path: Path, bad: _Bad) -> Checkpoint | None:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as e:
        bad("bad_checkpoint", "checkpoint.txt", f"cannot be read ({e.strerror})")
        return None
    return _parse_note(data, "checkpoint.txt", bad)


def _parse_note(data: bytes, label: str, bad: _Bad) -> Checkpoint | None:
    try:
        return parse_checkpoint(data)
    except NoteError as e:
        bad("bad_checkpoint", label, str(e))
        return None


def _matches(
    cp: Checkpoint,
    ledger: Ledger,
    size: int,
    root: bytes,
    key: Ed25519PublicKey | None,
    label: str,
    bad: _Bad,
) -> bool:
    """True when `cp` is this ledger's checkpoint of exactly these entries."""
    if cp.origin != ledger.origin:
        bad("bad_checkpoint", label, f"origin {cp.origin} is not this ledger's {ledger.origin}")
        return False
    if cp.size > size:
        bad(
            "truncated",
            label,
            f"signed for {cp.size} entries but the ledger holds {size}: the newest entries "
            "were removed, or the ledger was replaced by an older copy",
        )
        return False
    if cp.size != size:
        bad("stale_checkpoint", label, f"signed for {cp.size} entries, the ledger holds {size}")
        return False
    if cp.root != root:
        bad(
            "checkpoint_mismatch",
            label,
            f"root hash for {size} entries does not match the entries: an entry was "
            "edited, deleted, inserted or moved",
        )
        return False
    if size > 0 and (key is None or not checkpoint_signed_by(cp, key)):
        bad("bad_checkpoint", label, "not validly signed by the key that made its last entry")
        return False
    return True


def _check_stored_nodes(ledger: Ledger, size: int, cp: Checkpoint, bad: _Bad) -> None:
    """The stored nodes the next append and new proofs are built from."""
    try:
        stored = ledger.root(size)
    except InputError as e:
        bad("tree_mismatch", None, e.message)
        return
    if stored != cp.root:
        bad("tree_mismatch", None, "stored tree nodes do not give the checkpoint's root")


def _check_recent(ledger: Ledger, size: int, bad: _Bad) -> list[ParsedEntry]:
    """Parse and check the newest entries: form, place, chain, signature, and
    the stored leaf hash. Returns those that parse, oldest first."""
    first = max(0, size - RECENT_ENTRIES)
    parsed: list[ParsedEntry] = []
    prev: bytes | None = None
    if first > 0:
        before = ledger.entry_bytes(first - 1)
        prev = merkle.leaf_hash(before) if before is not None else None
    for position in range(first, size):
        stored = ledger.entry(position)
        where = f"entry {position}"
        if stored is None:
            bad("out_of_place", where, "missing: entries deleted or inserted")
            prev = None
            continue
        leaf = merkle.leaf_hash(stored.entry)
        expected_prev, prev = prev, leaf
        try:
            entry = parse_entry(stored.entry)
        except EntryError as e:
            bad("bad_entry", where, str(e))
            continue
        parsed.append(entry)
        if entry.index != position:
            bad("out_of_place", where, f"entry says it is number {entry.index}")
        if entry.prev != (expected_prev.hex() if expected_prev is not None else None):
            bad("broken_chain", where, "does not follow the entry before it")
        if not signature_is_valid(entry.actor_key, stored.signature, stored.entry):
            bad("bad_signature", where, "signature does not verify: the entry was edited")
        if ledger.stored_leaf(position) != leaf:
            bad("tree_mismatch", where, "stored leaf hash does not match the entry")
    if size > 0 and (not parsed or parsed[-1].index != size - 1):
        return []  # the newest entry does not parse: no key to check the checkpoint with
    return parsed
