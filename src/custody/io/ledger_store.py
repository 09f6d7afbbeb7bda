"""The ledger's storage: one SQLite file under $CUSTODY_HOME/ledger/.

Appends are serialised by SQLite's write lock (BEGIN IMMEDIATE) and are one
transaction each: the entry, the tree nodes it completes and the new signed
checkpoint land together or not at all (synchronous=FULL, rollback journal).
After each commit the latest checkpoint is also copied to checkpoint.txt,
outside the database, so that replacing the database with an older copy is
seen. Schema and reasoning: docs/ledger.md.
"""

from __future__ import annotations

import contextlib
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from custody.base.errors import EnvironmentFailure, InputError, LedgerDamaged
from custody.base.fsutil import environment_error, replace_file
from custody.base.home import ledger_dir
from custody.io.ledger_integrity import check_head
from custody.ledger.checkpoint_time import find_checkpoint_tokens
from custody.ledger.rows import Appended, StoredEntry
from custody.tlog import merkle
from custody.tlog.entries import Actor, entry_bytes
from custody.tlog.note import sign_checkpoint

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS entries (
    idx INTEGER PRIMARY KEY, entry BLOB NOT NULL, signature BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS nodes (
    level INTEGER NOT NULL, idx INTEGER NOT NULL, hash BLOB NOT NULL,
    PRIMARY KEY (level, idx)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS checkpoint (
    id INTEGER PRIMARY KEY CHECK (id = 1), size INTEGER NOT NULL, note BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS cosigned (size INTEGER PRIMARY KEY, note BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS witnesses (url TEXT PRIMARY KEY, size INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS ingests (
    idx INTEGER PRIMARY KEY, case_id TEXT NOT NULL, exhibit TEXT NOT NULL,
    manifest_sha256 TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS ingests_by_content ON ingests (case_id, exhibit, manifest_sha256);
"""

INGESTS_INDEXED = "ingests-v1"
"""The meta key set once the `ingests` lookup table holds every entry's row: a
ledger made before the table existed is filled on its first open (docs/ledger.md,
"One bundle per content")."""

INGESTS_WITH_CONTENT = (
    "SELECT idx FROM ingests WHERE case_id = ? AND exhibit = ? AND manifest_sha256 = ? ORDER BY idx"
)

LOCK_TIMEOUT_S = 300.0


def _blob(value: object) -> bytes:
    """A stored value as bytes, whatever type an editor of the database left."""
    if isinstance(value, bytes):
        return value
    if value is None:
        return b""
    return str(value).encode("utf-8", "surrogateescape")


def _int(value: object) -> int:
    try:
        return int(value)  # type: ignore[call-overload, no-any-return]
    except (TypeError, ValueError):
        return -1


class Ledger:
    """An open ledger. Use `Ledger.open(home)`; close with `close()` or `with`."""

    def __init__(self, path: Path, conn: sqlite3.Connection) -> None:
        self.path = path
        self.checkpoint_file = path.parent / "checkpoint.txt"
        self._conn = conn
        self._checked = False

    # --- opening -------------------------------------------------------------------

    @classmethod
    def refuse_if_damaged(cls, home: Path) -> None:
        """For a command that does long work before it appends (an upload):
        check first, so that a damaged ledger costs nothing. Raises LedgerDamaged."""
        if cls.exists(home):
            with cls.open(home, create=False) as ledger:
                ledger.ensure_intact()

    @classmethod
    def exists(cls, home: Path) -> bool:
        return (ledger_dir(home) / "ledger.sqlite3").exists()

    @classmethod
    def open(cls, home: Path, *, create: bool = True) -> Ledger:
        """Open (and create when asked) the ledger under `home`.
        Raises InputError when it is missing or not a custody ledger."""
        directory = ledger_dir(home)
        path = directory / "ledger.sqlite3"
        if not path.exists() and not create:
            raise InputError("no ledger yet (nothing has been recorded)", path=str(path))
        try:
            directory.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(path, timeout=LOCK_TIMEOUT_S, isolation_level=None)
        except (OSError, sqlite3.Error) as e:
            raise EnvironmentFailure(f"cannot open the ledger ({e})", path=str(path)) from e
        try:
            conn.execute("PRAGMA journal_mode=DELETE")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("BEGIN IMMEDIATE")
            for statement in SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES ('origin', ?)",
                (f"custody-ledger/{uuid.uuid4()}",),
            )
            conn.execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES ('format', 'custody/ledger/v1')"
            )
            if (
                conn.execute("SELECT 1 FROM meta WHERE key = ?", (INGESTS_INDEXED,)).fetchone()
                is None
            ):
                _fill_ingests(conn)
            conn.execute("COMMIT")
        except sqlite3.DatabaseError as e:
            conn.close()
            raise InputError(f"not a custody ledger ({e})", path=str(path)) from e
        return cls(path, conn)

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- reading -------------------------------------------------------------------

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[None]:
        """Read the database as of one moment for the block: no append lands
        in between (SQLite's shared lock; writers wait). checkpoint.txt, which
        is replaced only after a commit, is then never newer than what is read."""
        conn = self._conn
        conn.execute("BEGIN")
        try:
            conn.execute("SELECT COUNT(*) FROM meta").fetchone()  # takes the shared lock now
            yield
        finally:
            if conn.in_transaction:
                conn.execute("COMMIT")

    def ensure_intact(self) -> None:
        """Refuse to add to a damaged ledger: the check of io/ledger_integrity.py,
        once per open ledger (every append calls this first). Raises LedgerDamaged."""
        if self._checked:
            return
        head = check_head(self)
        if not head.intact:
            raise LedgerDamaged(
                f"the ledger is damaged, nothing was added to it ({head.summary()}); "
                "run 'custody ledger verify' to see every problem",
                path=str(self.path),
            )
        self._checked = True

    @property
    def origin(self) -> str:
        row = self._conn.execute("SELECT value FROM meta WHERE key = 'origin'").fetchone()
        return str(row[0])

    def size(self) -> int:
        return int(self._conn.execute("SELECT COUNT(*) FROM entries").fetchone()[0])

    def entries(self) -> Iterator[StoredEntry]:
        """Every stored entry in row order."""
        cur = self._conn.execute("SELECT idx, entry, signature FROM entries ORDER BY idx")
        for position, (idx, entry, signature) in enumerate(cur):
            yield StoredEntry(position, _int(idx), _blob(entry), _blob(signature))

    def leaf_hashes(self) -> Iterator[tuple[int, int, bytes]]:
        """(position, idx column, leaf hash) of every stored entry in row order:
        what the check before an append reads, without keeping the entries."""
        cur = self._conn.execute("SELECT idx, entry FROM entries ORDER BY idx")
        for position, (idx, entry) in enumerate(cur):
            yield position, _int(idx), merkle.leaf_hash(_blob(entry))

    def stored_leaf(self, index: int) -> bytes | None:
        """The stored leaf hash (tree node at level 0) of entry `index`."""
        row = self._conn.execute(
            "SELECT hash FROM nodes WHERE level = 0 AND idx = ?", (index,)
        ).fetchone()
        return _blob(row[0]) if row else None

    def entry(self, index: int) -> StoredEntry | None:
        row = self._conn.execute(
            "SELECT idx, entry, signature FROM entries WHERE idx = ?", (index,)
        ).fetchone()
        if row is None:
            return None
        return StoredEntry(index, _int(row[0]), _blob(row[1]), _blob(row[2]))

    def entry_bytes(self, index: int) -> bytes | None:
        found = self.entry(index)
        return found.entry if found is not None else None

    def stored_nodes(self) -> dict[tuple[int, int], bytes]:
        return {
            (_int(lv), _int(ix)): _blob(h)
            for lv, ix, h in self._conn.execute("SELECT level, idx, hash FROM nodes")
        }

    def ingests_with_content(
        self, *, case: str, exhibit: str | None, manifest_sha256: str
    ) -> list[int]:
        """The indexes of the ingest entries recorded with this case, exhibit and
        manifest digest, oldest first, less those an `abandoned` entry explains.
        An indexed lookup (the `ingests_by_content` index), whatever the ledger's
        size; the caller reads each entry to confirm it."""
        rows = self._conn.execute(INGESTS_WITH_CONTENT, (case, exhibit or "", manifest_sha256))
        return [_int(r[0]) for r in rows]

    def checkpoint_tokens(self, note: bytes) -> tuple[tuple[str, bytes], ...]:
        """The timestamps kept of checkpoint `note` (`ledger checkpoint --tsa`):
        (file name, bytes) each."""
        return find_checkpoint_tokens(self.checkpoint_file.parent, note)

    def latest_checkpoint(self) -> bytes | None:
        row = self._conn.execute("SELECT note FROM checkpoint WHERE id = 1").fetchone()
        return _blob(row[0]) if row else None

    # --- cosignatures (docs/ledger.md, "Witnesses") --------------------------------

    def cosigned_checkpoint(self, size: int) -> bytes | None:
        """The checkpoint of `size` with the cosignatures witnesses returned."""
        row = self._conn.execute("SELECT note FROM cosigned WHERE size = ?", (size,)).fetchone()
        return _blob(row[0]) if row else None

    def cosigned_sizes(self) -> list[int]:
        """The sizes that have a cosigned checkpoint, newest first."""
        rows = self._conn.execute("SELECT size FROM cosigned ORDER BY size DESC")
        return [_int(r[0]) for r in rows]

    def store_cosigned(self, size: int, merge: Callable[[bytes | None], bytes]) -> None:
        """Keep a checkpoint with its cosignatures: `merge` gets the stored copy
        (or None) and returns the new one, under the write lock, so that two
        processes adding cosignatures at once keep both."""
        conn = self._conn
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.execute(
                    "INSERT OR REPLACE INTO cosigned (size, note) VALUES (?, ?)",
                    (size, merge(self.cosigned_checkpoint(size))),
                )
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        except sqlite3.OperationalError as e:
            raise EnvironmentFailure(f"cannot write the ledger ({e})", path=str(self.path)) from e

    def witness_size(self, url: str) -> int:
        """The size a witness last cosigned for this ledger, as far as we know."""
        row = self._conn.execute("SELECT size FROM witnesses WHERE url = ?", (url,)).fetchone()
        return _int(row[0]) if row else 0

    def set_witness_size(self, url: str, size: int) -> None:
        try:
            self._conn.execute(
                "INSERT OR REPLACE INTO witnesses (url, size) VALUES (?, ?)", (url, size)
            )
        except sqlite3.OperationalError as e:
            raise EnvironmentFailure(f"cannot write the ledger ({e})", path=str(self.path)) from e

    def _node(self, level: int, index: int) -> bytes:
        row = self._conn.execute(
            "SELECT hash FROM nodes WHERE level = ? AND idx = ?", (level, index)
        ).fetchone()
        if row is None:
            raise InputError(f"ledger tree node ({level}, {index}) is missing", path=str(self.path))
        return _blob(row[0])

    def root(self, size: int) -> bytes:
        if size == 0:
            return merkle.EMPTY_ROOT
        return merkle.subtree_from_perfect_nodes(self._node)(0, size)

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        return merkle.inclusion_path(index, size, merkle.subtree_from_perfect_nodes(self._node))

    def consistency_proof(self, old_size: int, new_size: int) -> list[bytes]:
        return merkle.consistency_path(
            old_size, new_size, merkle.subtree_from_perfect_nodes(self._node)
        )

    # --- appending -----------------------------------------------------------------

    def append(
        self,
        *,
        action: str,
        subject: dict[str, Any],
        signer: Ed25519PrivateKey,
        signer_name: str,
        time: str,
    ) -> Appended:
        """Append one entry signed by `signer`, with its tree nodes and a new
        signed checkpoint, in one transaction. Waits for other writers.
        Raises LedgerDamaged (before anything is written) when the ledger no
        longer matches its signed checkpoint."""
        self.ensure_intact()
        conn = self._conn
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                last = conn.execute(
                    "SELECT idx, entry FROM entries ORDER BY idx DESC LIMIT 1"
                ).fetchone()
                index = 0 if last is None else int(last[0]) + 1
                prev = None if last is None else merkle.leaf_hash(_blob(last[1]))
                data = entry_bytes(
                    index=index,
                    prev_leaf_hash=prev,
                    time=time,
                    action=action,
                    actor=Actor(signer_name, signer.public_key()),
                    subject=subject,
                )
                signature = signer.sign(data)
                conn.execute(
                    "INSERT INTO entries (idx, entry, signature) VALUES (?, ?, ?)",
                    (index, data, signature),
                )
                _index_ingest(conn, index, action, subject)
                level, node_index, h = 0, index, merkle.leaf_hash(data)
                conn.execute("INSERT INTO nodes (level, idx, hash) VALUES (?, ?, ?)", (0, index, h))
                while node_index & 1:
                    left = self._node(level, node_index - 1)
                    h = merkle.node_hash(left, h)
                    level += 1
                    node_index >>= 1
                    conn.execute(
                        "INSERT INTO nodes (level, idx, hash) VALUES (?, ?, ?)",
                        (level, node_index, h),
                    )
                size = index + 1
                note = sign_checkpoint(self.origin, size, self.root(size), signer)
                conn.execute(
                    "INSERT OR REPLACE INTO checkpoint (id, size, note) VALUES (1, ?, ?)",
                    (size, note),
                )
                proof = self.inclusion_proof(index, size)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        except sqlite3.OperationalError as e:
            raise EnvironmentFailure(f"cannot write the ledger ({e})", path=str(self.path)) from e
        self._publish_checkpoint()
        return Appended(index, data, signature, size, note, tuple(proof), self.origin)

    def _publish_checkpoint(self) -> None:
        """Copy the latest checkpoint to checkpoint.txt under the write lock, so
        concurrent appends leave the newest one there."""
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            note = self.latest_checkpoint()
            if note is not None:
                try:
                    replace_file(self.checkpoint_file, note)
                except OSError as e:
                    raise environment_error(e, self.checkpoint_file) from e
        finally:
            conn.execute("COMMIT")


def _index_ingest(conn: sqlite3.Connection, index: int, action: str, subject: Any) -> None:
    """Keep the `ingests` lookup table in step with one entry: an ingest that
    records its manifest digest adds a row, an `abandoned` entry removes the row
    of the ingest it explains (no bundle exists for it)."""
    if not isinstance(subject, dict):
        return
    if action == "ingest":
        case, exhibit, manifest = (
            subject.get("case"),
            subject.get("exhibit"),
            subject.get("manifest_sha256"),
        )
        if isinstance(case, str) and isinstance(manifest, str):
            conn.execute(
                "INSERT OR REPLACE INTO ingests (idx, case_id, exhibit, manifest_sha256)"
                " VALUES (?, ?, ?, ?)",
                (index, case, exhibit if isinstance(exhibit, str) else "", manifest),
            )
    elif action == "abandoned" and isinstance(subject.get("ingest_entry"), int):
        conn.execute("DELETE FROM ingests WHERE idx = ?", (subject["ingest_entry"],))


def _fill_ingests(conn: sqlite3.Connection) -> None:
    """Fill the `ingests` lookup table from every stored entry, once per ledger
    (inside open's write transaction). Entries that do not parse are skipped:
    the table only finds candidates, and damage is `ledger verify`'s to report."""
    import json

    conn.execute("DELETE FROM ingests")
    for idx, data in conn.execute("SELECT idx, entry FROM entries ORDER BY idx"):
        try:
            obj = json.loads(_blob(data))
        except ValueError:
            continue
        if isinstance(obj, dict) and isinstance(obj.get("action"), str):
            _index_ingest(conn, _int(idx), obj["action"], obj.get("subject"))
    conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, '1')", (INGESTS_INDEXED,))
