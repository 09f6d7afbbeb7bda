"""The PostgreSQL side of the shared intake state (io.intake.shared): the
schema `custody_intake`, connections with explicit timeouts, and the row
lease a PATCH holds. Every SQL statement of the shared intake is here or in
io.intake.shared.

    spaces       store, case_id                  -- the case an s3:// store serves
    invitations  id (token SHA-256), store, ref, expires, revoked, doc
    uploads      id, invitation, number, offset, version, doc
                 -- one row per file; a PATCH holds its row (FOR UPDATE NOWAIT)
    parts        upload, offset, length, key     -- the objects holding its bytes
    markers      invitation, name, data          -- finish.json, result.json, receipts
"""

from __future__ import annotations

import json
from typing import Any

from custody.base.errors import EnvironmentFailure, InputError
from custody.intake.tus import Upload
from custody.io.team.db import TeamLogUnavailable

try:
    import psycopg
except ImportError:  # custody without the `team` extra
    psycopg = None  # type: ignore[assignment]

SCHEMA = "custody_intake"
CONNECT_TIMEOUT_S = 5
STATEMENT_TIMEOUT_MS = 30_000
LOCK_SCHEMA = 0x637573746F6479  # an advisory-lock number: creating the schema once

DDL = f"""
CREATE SCHEMA IF NOT EXISTS {SCHEMA};
CREATE TABLE IF NOT EXISTS {SCHEMA}.spaces (store text PRIMARY KEY, case_id text NOT NULL);
CREATE TABLE IF NOT EXISTS {SCHEMA}.invitations (
    id text PRIMARY KEY, store text NOT NULL, ref text NOT NULL, created text NOT NULL,
    expires text NOT NULL, max_bytes bigint NOT NULL, max_files integer NOT NULL,
    revoked text, doc text NOT NULL);
CREATE TABLE IF NOT EXISTS {SCHEMA}.uploads (
    id text PRIMARY KEY, invitation text NOT NULL REFERENCES {SCHEMA}.invitations,
    number integer NOT NULL, length bigint NOT NULL, "offset" bigint NOT NULL,
    sha256 text, version bigint NOT NULL DEFAULT 0, doc text NOT NULL,
    UNIQUE (invitation, number));
CREATE TABLE IF NOT EXISTS {SCHEMA}.parts (
    upload text NOT NULL REFERENCES {SCHEMA}.uploads ON DELETE CASCADE,
    "offset" bigint NOT NULL, length bigint NOT NULL, key text NOT NULL,
    PRIMARY KEY (upload, "offset"));
CREATE TABLE IF NOT EXISTS {SCHEMA}.markers (
    invitation text NOT NULL, name text NOT NULL, data bytea NOT NULL,
    PRIMARY KEY (invitation, name))
"""


class UploadBusy(Exception):
    """Another request (on this server or another) is writing this upload."""


def where(url: str) -> str:
    try:
        info = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "the intake database"
    return f"postgresql://{info.get('host', 'localhost')}:{info.get('port', '5432')}/" + str(
        info.get("dbname") or ""
    )


def open_connection(url: str, *, autocommit: bool) -> Any:
    """A connection with explicit timeouts. Raises InputError, TeamLogUnavailable."""
    if not url.startswith(("postgresql://", "postgres://")):
        raise InputError("the intake database must be a postgresql:// URL")
    if psycopg is None:
        raise InputError("a shared intake needs psycopg: pip install 'custody[team]'")
    try:
        return psycopg.connect(
            url,
            connect_timeout=CONNECT_TIMEOUT_S,
            application_name="custody-intake",
            autocommit=autocommit,
            options=f"-c statement_timeout={STATEMENT_TIMEOUT_MS}",
            keepalives=1,
            keepalives_idle=10,
            keepalives_interval=5,
            keepalives_count=3,
        )
    except psycopg.ProgrammingError as e:
        raise InputError(f"unusable database URL ({e})") from e
    except psycopg.Error as e:
        raise TeamLogUnavailable(f"cannot reach {where(url)} ({first_line(e)})") from e


def first_line(e: BaseException) -> str:
    lines = str(e).strip().splitlines()
    return lines[0] if lines else e.__class__.__name__


def insert_upload(conn: Any, up: Upload) -> None:
    conn.execute(
        f"INSERT INTO {SCHEMA}.uploads "
        '(id, invitation, number, length, "offset", sha256, doc) '
        "VALUES (%s, %s, %s, %s, %s, %s, %s)",
        (
            up.id,
            up.invitation,
            up.number,
            up.length,
            up.offset,
            up.sha256,
            json.dumps(up.to_json(), sort_keys=True),
        ),
    )


def update_upload(conn: Any, up: Upload) -> None:
    conn.execute(
        f'UPDATE {SCHEMA}.uploads SET "offset" = %s, sha256 = %s, doc = %s, '
        "version = version + 1 WHERE id = %s",
        (up.offset, up.sha256, json.dumps(up.to_json(), sort_keys=True), up.id),
    )


class Lease:
    """One upload's row, held (SELECT ... FOR UPDATE NOWAIT) in an open
    transaction for the length of one PATCH; a server that dies lets go with
    its connection. Use from worker threads: every call blocks."""

    def __init__(self, database: str, upload_id: str) -> None:
        self.database = database
        self.upload_id = upload_id
        self.conn: Any = None
        self.version = -1

    def take(self) -> Upload:
        """Raises UploadBusy, KeyError (no such upload)."""
        self.conn = open_connection(self.database, autocommit=False)
        try:
            row = self.conn.execute(
                f"SELECT doc, version FROM {SCHEMA}.uploads WHERE id = %s FOR UPDATE NOWAIT",
                (self.upload_id,),
            ).fetchone()
        except psycopg.errors.LockNotAvailable as e:
            self.release()
            raise UploadBusy(self.upload_id) from e
        except psycopg.Error as e:
            self.release()
            raise EnvironmentFailure(f"the intake database failed ({first_line(e)})") from e
        if row is None:
            self.release()
            raise KeyError(self.upload_id)
        self.version = int(row[1])
        return Upload.from_json(json.loads(row[0]))

    def advance(self, up: Upload, part: tuple[int, int, str] | None) -> int:
        """Record a stored part and the new offset, and let go. Returns the new version."""
        try:
            if part is not None:
                self.conn.execute(
                    f'INSERT INTO {SCHEMA}.parts (upload, "offset", length, key) '
                    "VALUES (%s, %s, %s, %s)",
                    (up.id, *part),
                )
            update_upload(self.conn, up)
            self.conn.commit()
        finally:
            self.release()
        return self.version + 1

    def restart(self, up: Upload) -> list[str]:
        """Forget every stored part (the whole file was refused): returns their keys."""
        try:
            rows = self.conn.execute(
                f"DELETE FROM {SCHEMA}.parts WHERE upload = %s RETURNING key", (up.id,)
            ).fetchall()
            update_upload(self.conn, up)
            self.conn.commit()
        finally:
            self.release()
        return [str(r[0]) for r in rows]

    def release(self) -> None:
        if self.conn is not None:
            try:
                self.conn.close()  # an uncommitted transaction rolls back
            finally:
                self.conn = None
