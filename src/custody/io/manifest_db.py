"""The adapter that reads Manifest.db (an iOS backup's index) with sqlite3.

Opened read-only and immutable (`mode=ro&immutable=1`): SQLite writes no
journal, WAL or lock file beside it and never changes a byte. Rows are
streamed in fileID order (the table's primary key), never held whole.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

from custody.extraction.ios import Row

MAX_SECONDS = 600.0
_QUERY = "SELECT fileID, domain, relativePath, flags, file FROM Files ORDER BY fileID"


class ManifestUnreadable(ValueError):
    """Manifest.db is not an SQLite database with a Files table (or is encrypted)."""


def manifest_rows(path: Path) -> Iterator[Row]:
    """The rows of Files. Raises ManifestUnreadable on a damaged, encrypted or
    foreign database (possibly after some rows, when the damage is inside)."""
    uri = f"file:{quote(str(path.resolve()))}?mode=ro&immutable=1"
    try:
        connection = sqlite3.connect(uri, uri=True, timeout=1.0)
    except sqlite3.Error as e:
        raise ManifestUnreadable(f"Manifest.db cannot be opened ({e})") from e
    deadline = time.monotonic() + MAX_SECONDS
    # A hostile database can make a query run forever (a view with a recursive
    # query named Files): only a real table is read, and never for too long.
    connection.set_progress_handler(lambda: int(time.monotonic() > deadline), 100_000)
    try:
        try:
            connection.execute("PRAGMA query_only = ON")
            connection.execute("PRAGMA trusted_schema = OFF")
            kind = connection.execute(
                "SELECT type FROM sqlite_master WHERE name = 'Files'"
            ).fetchone()
        except sqlite3.DatabaseError as e:
            raise ManifestUnreadable(
                f"Manifest.db cannot be read ({e}); an encrypted backup's index "
                "is not readable without its password"
            ) from e
        if kind is None or kind[0] != "table":
            raise ManifestUnreadable("Manifest.db has no Files table")
        try:
            cursor = connection.execute(_QUERY)
            while batch := cursor.fetchmany(1000):
                yield from batch
        except sqlite3.DatabaseError as e:
            raise ManifestUnreadable(
                f"Manifest.db cannot be read ({e}); an encrypted backup's index "
                "is not readable without its password"
            ) from e
    finally:
        connection.close()
