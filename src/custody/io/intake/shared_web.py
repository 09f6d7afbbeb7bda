"""The intake's ASGI app over the shared state (PostgreSQL and S3): the same
routes and answers as web.IntakeApp; only a PATCH differs.

A PATCH holds the upload's database row for its whole length (another
request, on any server, gets 423 and retries, as tus clients do), spools the
body to a local file while hashing it, and only when its checksum (and, on the
last byte, the whole file's SHA-256) is right stores it as one object and
moves the offset. A refused body leaves nothing: the spool file goes, no
object was written, the transaction rolls back.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

import anyio
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from custody.base.errors import CustodyError
from custody.intake import invitations as inv_mod
from custody.intake import tus
from custody.io.intake.shared import SharedState
from custody.io.intake.shared_db import Lease, UploadBusy
from custody.io.intake.store import write_all
from custody.io.intake.web import (
    TUS_EXPOSED,
    WRITE_BATCH,
    IntakeApp,
    _error,
    _response,
    build_app,
)

log = logging.getLogger("custody.intake")


class SharedIntakeApp(IntakeApp):
    """The handlers over a SharedState."""

    shared: SharedState

    def __init__(self, state: SharedState, **kwargs: Any) -> None:
        super().__init__(state, **kwargs)  # type: ignore[arg-type]
        self.shared = state
        self.spool = state.root / "spool"
        self.spool.mkdir(parents=True, exist_ok=True, mode=0o700)
        for stale in self.spool.glob("patch-*"):  # parts a killed server was checking
            stale.unlink(missing_ok=True)
        self.running: dict[str, tuple[int, Any]] = {}
        """upload id -> (row version, hasher): valid only while no other server wrote."""

    async def create(self, request: Request) -> Response:
        inv = self._writable(request)
        if isinstance(inv, Response):
            return inv
        headers = dict(request.headers)
        now = inv_mod.iso(self.now())

        def plan(existing: list[tus.Upload]) -> tus.Upload:
            return tus.plan_creation(
                headers,
                invitation=inv.id,
                used_bytes=sum(u.length for u in existing),
                used_files=len(existing),
                max_bytes=inv.max_bytes,
                max_files=inv.max_files,
                now=now,
            )

        try:
            up = await anyio.to_thread.run_sync(self.shared.create_upload_checked, inv.id, plan)
        except tus.TusError as e:
            return _error(e.status, e.message)
        log.info("upload created: %d bytes announced", up.length)
        return _response(
            201,
            headers={"Location": f"/files/{up.id}", "Access-Control-Expose-Headers": TUS_EXPOSED},
        )

    async def patch(self, request: Request) -> Response:
        inv = self._writable(request)
        if isinstance(inv, Response):
            return inv
        found = self._find(request, inv)
        if found is None:
            return _error(404, "no such upload")
        lease = self.shared.lease(found.id)
        try:
            up = await anyio.to_thread.run_sync(lease.take)
        except UploadBusy:
            return _error(423, "this upload is being written by another request")
        except (KeyError, CustodyError):
            return _error(503, "the server cannot reach its records; please try again later")
        try:
            plan = tus.plan_patch(dict(request.headers), up)
        except tus.TusError as e:
            await anyio.to_thread.run_sync(lease.release)
            return _error(e.status, e.message)
        try:
            return await self._shared_write(request, lease, up, plan)
        finally:
            await anyio.to_thread.run_sync(lease.release)

    async def _shared_write(
        self, request: Request, lease: Lease, up: tus.Upload, plan: tus.PatchPlan
    ) -> Response:
        known = self.running.pop(up.id, None)
        try:
            if known is None or known[0] != lease.version:
                hasher = await anyio.to_thread.run_sync(self.shared.hash_prefix, up)
            else:
                hasher = known[1]
            fd, name = tempfile.mkstemp(dir=self.spool, prefix="patch-")
        except (OSError, CustodyError) as e:
            log.error("could not read back a stored upload: %s", e)
            return _error(503, "the server could not resume this upload; please try again later")
        spool = Path(name)
        whole_file = hasher.copy()
        chunk = hashlib.sha256()
        received = 0
        whole = False
        buf = bytearray()
        try:
            try:
                async for piece in request.stream():
                    if received + len(piece) > plan.limit:
                        raise tus.TusError(
                            413, "the body is longer than what is left of the upload"
                        )
                    buf += piece
                    received += len(piece)
                    if len(buf) >= WRITE_BATCH:
                        await anyio.to_thread.run_sync(write_all, fd, buf, whole_file, chunk)
                        buf = bytearray()
                whole = True
            except ClientDisconnect:
                whole = False
            if buf:
                await anyio.to_thread.run_sync(write_all, fd, buf, whole_file, chunk)
            tus.judge_body(plan, digest=chunk.digest(), whole=whole)
            offset = up.offset + received
            sha = whole_file.hexdigest() if offset == up.length else None
            if sha is not None:
                tus.judge_complete(up, sha)
            part = None
            if received:
                key = self.shared.part_key(up, up.offset)
                await anyio.to_thread.run_sync(os.fsync, fd)
                await anyio.to_thread.run_sync(self.shared.put_part, key, spool)
                part = (up.offset, received, key)
            version = await anyio.to_thread.run_sync(lease.advance, up.advanced(offset, sha), part)
        except tus.TusError as e:
            restart = e.status == tus.STATUS_CHECKSUM_MISMATCH and received == plan.limit
            if restart and up.expected_sha256 and "whole file" in e.message:
                keys = await anyio.to_thread.run_sync(lease.restart, up.advanced(0, None))
                await anyio.to_thread.run_sync(self._forget_objects, keys)
            log.warning("refused part of an upload: %s", e.message)
            return _error(e.status, e.message)
        except OSError as e:
            return self._disk_error(e)
        except CustodyError as e:
            log.error("could not store part of an upload: %s", e.message)
            return _error(503, "the server could not store this part; please try again later")
        finally:
            os.close(fd)
            spool.unlink(missing_ok=True)
        self.running[up.id] = (version, whole_file)
        if sha is not None:
            self.running.pop(up.id, None)
            log.info("upload complete: %d bytes", up.length)
        return _response(
            204,
            headers={"Upload-Offset": str(offset), "Access-Control-Expose-Headers": TUS_EXPOSED},
        )

    def _forget_objects(self, keys: list[str]) -> None:
        try:
            self.shared.delete_objects(keys)
        except CustodyError:
            log.error("could not delete the objects of a refused file; they are never read")


def build_shared_app(app: SharedIntakeApp) -> Starlette:
    """The same routes; a request the shared records cannot answer (the
    database or the store away) gets 503 and a plain line in the log."""
    star = build_app(app)

    async def unavailable(request: Request, exc: Exception) -> Response:
        message = exc.message if isinstance(exc, CustodyError) else str(exc)
        log.error("shared state unavailable: %s", message)
        return _error(503, "the server cannot reach its records; please try again later")

    star.add_exception_handler(CustodyError, unavailable)
    return star
