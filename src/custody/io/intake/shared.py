"""The intake's shared state, for several servers behind one proxy: the
records in PostgreSQL (schema `custody_intake`, created on first use), the
upload bytes in object storage. An adapter: the same methods as the state
folder (store.StateDir), so the web app, finish and list work on either.

The tables, the connections and the row lease a PATCH holds: io.intake.shared_db.

Bytes: each accepted PATCH body is one object `<prefix>/uploads/<inv>/<upload>/
part-<offset>-<random>`, recorded in `parts` in the same transaction that
moves the offset, so an object only counts once the offset says so. An object a
crash left behind is never listed in `parts` and never read.

The local folder DIR keeps what is local by nature: the spool for a body being
checked, the staging folder of a finish, and the bundles this server made.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import secrets
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from custody.base.errors import EnvironmentFailure, InputError
from custody.base.fsutil import environment_error
from custody.intake.invitations import Invitation
from custody.intake.tus import Upload, well_formed_upload_id
from custody.io.intake.shared_db import (
    DDL,
    LOCK_SCHEMA,
    SCHEMA,
    Lease,
    first_line,
    insert_upload,
    open_connection,
    update_upload,
    where,
)
from custody.io.s3.client import S3Client, call, connect, s3_errors
from custody.io.s3.location import S3Location
from custody.io.team.db import TeamLogUnavailable

try:
    import psycopg
except ImportError:  # custody without the `team` extra
    psycopg = None  # type: ignore[assignment]

READ_CHUNK = 1 << 20


class SharedState:
    """Invitations and uploads in PostgreSQL, bytes in S3, local work in `root`."""

    def __init__(
        self,
        root: Path,
        *,
        database: str,
        location: S3Location,
        endpoint_url: str | None,
    ) -> None:
        self.root = root
        self.database = database
        self.location = location
        self.endpoint_url = endpoint_url
        self.store = str(location)
        self._s3: S3Client | None = None
        self._schema_ready = False
        self._local = threading.local()

    # Plumbing ----------------------------------------------------------------
    @property
    def s3(self) -> S3Client:
        if self._s3 is None:
            self._s3 = connect(endpoint_url=self.endpoint_url)
        return self._s3

    @contextmanager
    def _db(self, *, autocommit: bool = True) -> Iterator[Any]:
        """A connection for one short piece of work. Autocommit connections are
        kept, one per thread, and opened again once broken; a transaction gets
        a connection of its own."""
        kept = autocommit
        conn = getattr(self._local, "conn", None) if kept else None
        if conn is None or conn.closed or conn.broken:
            conn = open_connection(self.database, autocommit=autocommit)
            if kept:
                self._local.conn = conn
        try:
            if not self._schema_ready:
                self._create_schema(conn)
            yield conn
        except psycopg.OperationalError as e:
            kept = False
            raise TeamLogUnavailable(f"lost {where(self.database)} ({first_line(e)})") from e
        except psycopg.Error as e:
            raise EnvironmentFailure(f"the intake database failed ({first_line(e)})") from e
        except BaseException:
            kept = kept and not conn.broken
            raise
        finally:
            if not kept:
                if autocommit:
                    self._local.conn = None
                conn.close()

    def _create_schema(self, conn: Any) -> None:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_SCHEMA,))
            for statement in DDL.split(";"):
                if statement.strip():
                    conn.execute(statement)
        self._schema_ready = True

    def ping(self) -> None:
        """Reach the database (creating the tables) and the bucket, or raise."""
        with self._db():
            pass
        call(self.location, self.s3.head_bucket, Bucket=self.location.bucket)

    # The space -----------------------------------------------------------------
    def ensure(self, case: str) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as e:
            raise environment_error(e, self.root) from e
        with self._db() as conn:
            conn.execute(
                f"INSERT INTO {SCHEMA}.spaces (store, case_id) VALUES (%s, %s) "
                "ON CONFLICT (store) DO NOTHING",
                (self.store, case),
            )
            row = conn.execute(
                f"SELECT case_id FROM {SCHEMA}.spaces WHERE store = %s", (self.store,)
            ).fetchone()
        if row[0] != case:
            raise InputError(
                f"this intake store serves case {row[0]!r}, not {case!r}", path=self.store
            )

    def case(self) -> str:
        with self._db() as conn:
            row = conn.execute(
                f"SELECT case_id FROM {SCHEMA}.spaces WHERE store = %s", (self.store,)
            ).fetchone()
        if row is None:
            raise InputError(
                "no intake in this store yet: run 'custody intake invite' first", path=self.store
            )
        return str(row[0])

    def bundles(self) -> Path:
        return self.root / "bundles"

    # Invitations -----------------------------------------------------------------
    def save_invitation(self, inv: Invitation) -> None:
        with self._db() as conn:
            conn.execute(
                f"INSERT INTO {SCHEMA}.invitations "
                "(id, store, ref, created, expires, max_bytes, max_files, revoked, doc) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) "
                "ON CONFLICT (id) DO UPDATE SET revoked = EXCLUDED.revoked, doc = EXCLUDED.doc",
                (
                    inv.id,
                    self.store,
                    inv.ref,
                    inv.created,
                    inv.expires,
                    inv.max_bytes,
                    inv.max_files,
                    inv.revoked,
                    json.dumps(inv.to_json(), sort_keys=True),
                ),
            )

    def invitation(self, inv_id: str) -> Invitation | None:
        with self._db() as conn:
            row = conn.execute(
                f"SELECT doc FROM {SCHEMA}.invitations WHERE id = %s AND store = %s",
                (inv_id, self.store),
            ).fetchone()
        return None if row is None else Invitation.from_json(json.loads(row[0]))

    def invitations(self) -> list[Invitation]:
        with self._db() as conn:
            rows = conn.execute(
                f"SELECT doc FROM {SCHEMA}.invitations WHERE store = %s", (self.store,)
            ).fetchall()
        out = [Invitation.from_json(json.loads(r[0])) for r in rows]
        return sorted(out, key=lambda i: (i.created, i.ref))

    # Submissions -------------------------------------------------------------------
    def submission(self, inv_id: str) -> Path:
        """The local work folder of a submission (staging for its finish)."""
        if len(inv_id) != 64 or not set(inv_id) <= set("0123456789abcdef"):
            raise KeyError(inv_id)
        return self.root / "submissions" / inv_id

    def upload(self, inv_id: str, upload_id: str) -> Upload | None:
        if not well_formed_upload_id(upload_id):
            return None
        with self._db() as conn:
            row = conn.execute(
                f"SELECT doc FROM {SCHEMA}.uploads WHERE id = %s AND invitation = %s",
                (upload_id, inv_id),
            ).fetchone()
        return None if row is None else Upload.from_json(json.loads(row[0]))

    def uploads(self, inv_id: str) -> list[Upload]:
        with self._db() as conn:
            rows = conn.execute(
                f"SELECT doc FROM {SCHEMA}.uploads WHERE invitation = %s ORDER BY number",
                (inv_id,),
            ).fetchall()
        return [Upload.from_json(json.loads(r[0])) for r in rows]

    def create_upload(self, up: Upload) -> None:
        """Record a new upload (the web app uses create_upload_checked)."""
        with self._db() as conn:
            insert_upload(conn, up)

    def create_upload_checked(self, inv_id: str, plan: Callable[[list[Upload]], Upload]) -> Upload:
        """Record the upload `plan` makes from the invitation's uploads so far,
        holding the invitation's row meanwhile: two servers creating uploads for
        one invitation at once see each other's, so its limits hold. `plan`
        raises (e.g. TusError) to refuse; nothing is recorded then."""
        with self._db(autocommit=False) as conn:
            conn.execute(f"SELECT 1 FROM {SCHEMA}.invitations WHERE id = %s FOR UPDATE", (inv_id,))
            rows = conn.execute(
                f"SELECT doc FROM {SCHEMA}.uploads WHERE invitation = %s ORDER BY number",
                (inv_id,),
            ).fetchall()
            up = plan([Upload.from_json(json.loads(r[0])) for r in rows])
            insert_upload(conn, up)
            conn.commit()
        return up

    def save_upload(self, up: Upload) -> None:
        with self._db() as conn:
            update_upload(conn, up)

    def marker(self, inv_id: str, name: str) -> dict[str, Any] | None:
        data = self.read_file(inv_id, name)
        if data is None:
            return None
        doc = json.loads(data.decode("utf-8"))
        return doc if isinstance(doc, dict) else None

    def write_marker(self, inv_id: str, name: str, doc: dict[str, Any]) -> None:
        data = (json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()
        self.write_file(inv_id, name, data)

    def write_file(self, inv_id: str, name: str, data: bytes) -> Path:
        with self._db() as conn:
            conn.execute(
                f"INSERT INTO {SCHEMA}.markers (invitation, name, data) VALUES (%s, %s, %s) "
                "ON CONFLICT (invitation, name) DO UPDATE SET data = EXCLUDED.data",
                (inv_id, name, data),
            )
        # A copy in the local folder too, for the officer of this server.
        path = self.submission(inv_id) / name
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            from custody.base.fsutil import replace_file

            replace_file(path, data, mode=0o600)
        except OSError as e:
            raise environment_error(e, path) from e
        return path

    def read_file(self, inv_id: str, name: str) -> bytes | None:
        with self._db() as conn:
            row = conn.execute(
                f"SELECT data FROM {SCHEMA}.markers WHERE invitation = %s AND name = %s",
                (inv_id, name),
            ).fetchone()
        return None if row is None else bytes(row[0])

    def remove_marker(self, inv_id: str, name: str) -> None:
        with self._db() as conn:
            conn.execute(
                f"DELETE FROM {SCHEMA}.markers WHERE invitation = %s AND name = %s",
                (inv_id, name),
            )
        (self.submission(inv_id) / name).unlink(missing_ok=True)

    def submissions_waiting(self) -> Iterator[str]:
        with self._db() as conn:
            rows = conn.execute(
                f"SELECT m.invitation FROM {SCHEMA}.markers m "
                f"JOIN {SCHEMA}.invitations i ON i.id = m.invitation AND i.store = %s "
                "WHERE m.name = 'finish.json' AND NOT EXISTS ("
                f"  SELECT 1 FROM {SCHEMA}.markers d WHERE d.invitation = m.invitation "
                "  AND d.name IN ('result.json', 'failed.json')) ORDER BY 1",
                (self.store,),
            ).fetchall()
        yield from (str(r[0]) for r in rows)

    @contextmanager
    def finish_lock(self, inv_id: str) -> Iterator[None]:
        """One finish of a submission at a time, whichever server runs it
        (a session advisory lock: let go when the block ends or the process dies)."""
        conn = open_connection(self.database, autocommit=True)
        try:
            key = int.from_bytes(bytes.fromhex(inv_id[:15].rjust(16, "0")), "big")
            conn.execute("SELECT pg_advisory_lock(%s)", (key,))
            yield
        finally:
            conn.close()

    # Upload bytes ----------------------------------------------------------------
    def lease(self, upload_id: str) -> Lease:
        """Hold an upload's row for one PATCH. Raises UploadBusy when another
        request, on any server, holds it."""
        return Lease(self.database, upload_id)

    def part_key(self, up: Upload, offset: int) -> str:
        return (
            f"{self.location.key_prefix}uploads/{up.invitation}/{up.id}/"
            f"part-{offset:020d}-{secrets.token_hex(6)}"
        )

    def parts(self, up: Upload) -> list[tuple[int, int, str]]:
        with self._db() as conn:
            rows = conn.execute(
                f'SELECT "offset", length, key FROM {SCHEMA}.parts WHERE upload = %s '
                'ORDER BY "offset"',
                (up.id,),
            ).fetchall()
        return [(int(r[0]), int(r[1]), str(r[2])) for r in rows]

    def put_part(self, key: str, path: Path) -> None:
        """Store a checked body as one object (multipart when large, streamed from disk)."""
        call(
            self.location,
            self.s3.upload_file,
            Filename=str(path),
            Bucket=self.location.bucket,
            Key=key,
        )

    def delete_objects(self, keys: list[str]) -> None:
        for key in keys:
            call(self.location, self.s3.delete_object, Bucket=self.location.bucket, Key=key)

    def read_upload(self, up: Upload, length: int) -> Iterator[bytes]:
        """The first `length` bytes of an upload, streamed from its parts in order.
        Raises OSError when the recorded parts do not cover them."""
        at = 0
        for offset, size, key in self.parts(up):
            if at >= length:
                break
            if offset != at:
                raise OSError(errno.EIO, "the stored parts of an upload are not contiguous")
            with s3_errors(self.location):
                body = self.s3.get_object(Bucket=self.location.bucket, Key=key)["Body"]
                got = 0
                for chunk in body.iter_chunks(READ_CHUNK):
                    got += len(chunk)
                    yield chunk
                body.close()
            if got != size:
                raise OSError(errno.EIO, "a stored part of an upload has the wrong length")
            at += size
        if at < length:
            raise OSError(errno.EIO, "the stored parts are shorter than the recorded offset")

    def hash_prefix(self, up: Upload) -> Any:
        """A SHA-256 hasher fed the upload's stored bytes (after a restart or a
        move to another server: the running state of a hash is not shared)."""
        h = hashlib.sha256()
        for chunk in self.read_upload(up, up.offset):
            h.update(chunk)
        return h

    def copy_upload(self, up: Upload, dest: Path) -> None:
        """Stream an upload's bytes into `dest` (a new file), checking its SHA-256
        against the one computed on receipt. Raises OSError, EnvironmentFailure."""
        h = hashlib.sha256()
        fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        try:
            for chunk in self.read_upload(up, up.length):
                h.update(chunk)
                view = memoryview(chunk)
                while view:
                    view = view[os.write(fd, view) :]
            os.fsync(fd)
        except BaseException:
            dest.unlink(missing_ok=True)  # a part-copied file is not left behind
            raise
        finally:
            os.close(fd)
        if h.hexdigest() != up.sha256 or (
            up.expected_sha256 is not None and h.hexdigest() != up.expected_sha256
        ):
            dest.unlink(missing_ok=True)  # what is not the bytes received is not kept
            raise EnvironmentFailure(
                f"the stored bytes of file {up.number} are not the bytes received",
                path=self.store,
            )

    def drop_upload(self, up: Upload) -> None:
        """The upload's objects go (the bundle holds the evidence now)."""
        self.delete_objects([key for _, _, key in self.parts(up)])
