"""The intake's ASGI app (Starlette): the only module with HTTP in it.

Serves the upload page, the tus 1.0 endpoint and a small JSON API, all behind
an invitation capability sent in the `Custody-Invitation` header (the link
carries it in its #fragment, which browsers never send to a server or put in
a Referer). Nothing uploaded is parsed or served back; no access log is kept.
"""

from __future__ import annotations

import asyncio
import errno
import json
import logging
import os
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import anyio
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

from custody.intake import invitations as inv_mod
from custody.intake import tus
from custody.intake.ratelimit import RateLimiter
from custody.io.intake.store import (
    StateDir,
    cut_back,
    hash_prefix,
    open_part,
    submission_state,
    write_all,
)

log = logging.getLogger("custody.intake")
WRITE_BATCH = 1 << 20
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    "Cache-Control": "no-store",
}
TUS_EXPOSED = "Upload-Offset, Upload-Length, Tus-Resumable, Location"


def _response(status: int, body: Any = None, headers: dict[str, str] | None = None) -> Response:
    h = {**SECURITY_HEADERS, "Tus-Resumable": tus.TUS_VERSION, **(headers or {})}
    if body is None:
        return Response(status_code=status, headers=h)
    if isinstance(body, bytes):
        return Response(body, status_code=status, headers=h)
    data = json.dumps(body, ensure_ascii=False).encode()
    return Response(data, status_code=status, headers=h, media_type="application/json")


def _error(status: int, message: str) -> Response:
    return _response(status, {"error": message})


class IntakeApp:
    """The handlers, over one state folder."""

    def __init__(
        self,
        state: StateDir,
        *,
        page: bytes,
        page_csp: str,
        now: Callable[[], datetime],
        max_size: int,
    ) -> None:
        self.state = state
        self.page = page
        self.page_csp = page_csp
        self.now = now
        self.max_size = max_size
        self.requests = RateLimiter(rate=50.0, burst=200.0)
        self.failures = RateLimiter(rate=0.2, burst=10.0)
        self.locks: dict[str, asyncio.Lock] = {}
        self.hashers: dict[str, tuple[int, Any]] = {}

    # Plumbing ----------------------------------------------------------------
    def _client(self, request: Request) -> str:
        return request.client.host if request.client else "?"

    def _invitation(self, request: Request) -> inv_mod.Invitation | Response:
        """The invitation this request holds, or the refusal to answer."""
        client = self._client(request)
        if not self.requests.allow(client, time.monotonic()):
            return _error(429, "too many requests: wait a minute and try again")
        token = request.headers.get("custody-invitation", "")
        found = None
        if inv_mod.well_formed_token(token):
            found = self.state.invitation(inv_mod.token_hash(token))
        if found is None:
            if not self.failures.allow(client, time.monotonic()):
                return _error(429, "too many requests: wait a minute and try again")
            log.warning("refused a request without a valid invitation")
            return _error(403, "this link is not valid")
        return found

    def _finished(self, inv: inv_mod.Invitation) -> bool:
        return self.state.marker(inv.id, "finish.json") is not None

    def _writable(self, request: Request) -> inv_mod.Invitation | Response:
        inv = self._invitation(request)
        if isinstance(inv, Response):
            return inv
        refusal = inv.refusal(self.now())
        if refusal:
            return _error(403, refusal)
        if self._finished(inv):
            return _error(403, "this submission is finished: nothing more can be added")
        return inv

    # The page --------------------------------------------------------------
    async def page_view(self, request: Request) -> Response:
        return Response(
            self.page,
            media_type="text/html; charset=utf-8",
            headers={**SECURITY_HEADERS, "Content-Security-Policy": self.page_csp},
        )

    async def not_found(self, request: Request) -> Response:
        return _error(404, "not found")

    # tus -------------------------------------------------------------------
    async def options(self, request: Request) -> Response:
        return _response(204, headers=tus.options_headers(self.max_size))

    async def create(self, request: Request) -> Response:
        inv = self._writable(request)
        if isinstance(inv, Response):
            return inv
        async with self._lock("create:" + inv.id):
            uploads = self.state.uploads(inv.id)
            try:
                up = tus.plan_creation(
                    dict(request.headers),
                    invitation=inv.id,
                    used_bytes=sum(u.length for u in uploads),
                    used_files=len(uploads),
                    max_bytes=inv.max_bytes,
                    max_files=inv.max_files,
                    now=inv_mod.iso(self.now()),
                )
            except tus.TusError as e:
                return _error(e.status, e.message)
            try:
                await anyio.to_thread.run_sync(self.state.create_upload, up)
            except OSError as e:
                return self._disk_error(e)
        log.info("upload created: %d bytes announced", up.length)
        return _response(
            201,
            headers={"Location": f"/files/{up.id}", "Access-Control-Expose-Headers": TUS_EXPOSED},
        )

    def _lock(self, key: str) -> asyncio.Lock:
        return self.locks.setdefault(key, asyncio.Lock())

    def _find(self, request: Request, inv: inv_mod.Invitation) -> tus.Upload | None:
        uid = request.path_params["upload"]
        return self.state.upload(inv.id, uid) if tus.well_formed_upload_id(uid) else None

    async def head(self, request: Request) -> Response:
        inv = self._invitation(request)
        if isinstance(inv, Response):
            return inv
        up = self._find(request, inv)
        if up is None:
            return _error(404, "no such upload")
        return _response(
            200,
            headers={"Upload-Offset": str(up.offset), "Upload-Length": str(up.length)},
        )

    async def patch(self, request: Request) -> Response:
        inv = self._writable(request)
        if isinstance(inv, Response):
            return inv
        up = self._find(request, inv)
        if up is None:
            return _error(404, "no such upload")
        lock = self._lock(up.id)
        if lock.locked():
            return _error(423, "this upload is being written by another request")
        async with lock:
            up = self.state.upload(inv.id, up.id) or up
            try:
                plan = tus.plan_patch(dict(request.headers), up)
            except tus.TusError as e:
                return _error(e.status, e.message)
            return await self._write(request, up, plan)

    async def _write(self, request: Request, up: tus.Upload, plan: tus.PatchPlan) -> Response:
        import hashlib

        path = self.state.part(up.invitation, up.id)
        known = self.hashers.get(up.id)
        try:
            if known is None or known[0] != up.offset:
                hasher = await anyio.to_thread.run_sync(hash_prefix, path, up.offset)
            else:
                hasher = known[1]
            fd = await anyio.to_thread.run_sync(open_part, path, up.offset)
        except OSError as e:
            return self._disk_error(e)
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
            await anyio.to_thread.run_sync(os.fsync, fd)
            done = up.advanced(offset, sha)
            await anyio.to_thread.run_sync(self.state.save_upload, done)
        except tus.TusError as e:
            restart = e.status == tus.STATUS_CHECKSUM_MISMATCH and received == plan.limit
            back = 0 if restart and up.expected_sha256 and _mismatch_whole(e) else up.offset
            await anyio.to_thread.run_sync(cut_back, fd, back)
            if back != up.offset:
                await anyio.to_thread.run_sync(self.state.save_upload, up.advanced(0, None))
                self.hashers.pop(up.id, None)
            log.warning("refused part of an upload: %s", e.message)
            return _error(e.status, e.message)
        except OSError as e:
            await anyio.to_thread.run_sync(_cut_quietly, fd, up.offset)
            return self._disk_error(e)
        finally:
            os.close(fd)
        self.hashers[up.id] = (offset, whole_file)
        if sha is not None:
            log.info("upload complete: %d bytes", up.length)
        return _response(
            204,
            headers={"Upload-Offset": str(offset), "Access-Control-Expose-Headers": TUS_EXPOSED},
        )

    def _disk_error(self, e: OSError) -> Response:
        if e.errno in (errno.ENOSPC, errno.EDQUOT):
            log.error("storage full: an upload part was refused")
            return _error(
                507,
                "the server's storage is full: nothing of this part was kept; "
                "please try again later",
            )
        log.error("storage error: %s", e.strerror)
        return _error(500, "the server could not store this part; please try again later")

    # The submission ----------------------------------------------------------
    async def status(self, request: Request) -> Response:
        inv = self._invitation(request)
        if isinstance(inv, Response):
            return inv
        uploads = self.state.uploads(inv.id)
        refusal = inv.refusal(self.now())
        return _response(
            200,
            {
                "state": submission_state(self.state, inv, self.now(), uploads),
                "refusal": refusal,
                "opaque": inv.opaque,
                "expires": inv.expires,
                "max_bytes": inv.max_bytes,
                "max_files": inv.max_files,
                "used_bytes": sum(u.length for u in uploads),
                "files": [
                    {
                        "number": u.number,
                        "size": u.length,
                        "received": u.offset,
                        "sha256": u.sha256,
                    }
                    for u in uploads
                ],
            },
        )

    async def finish(self, request: Request) -> Response:
        inv = self._writable(request)
        if isinstance(inv, Response):
            return inv
        try:
            body = json.loads((await request.body())[:4096] or b"{}")
            names = bool(body.get("names", False)) if isinstance(body, dict) else False
        except (ValueError, ClientDisconnect):
            return _error(400, "the request is malformed")
        uploads = self.state.uploads(inv.id)
        if not uploads:
            return _error(409, "no file has been sent yet")
        if not all(u.complete for u in uploads):
            return _error(409, "a file is still being sent: wait until every file is complete")
        try:
            self.state.write_marker(
                inv.id, "finish.json", {"names": names, "at": inv_mod.iso(self.now())}
            )
        except OSError as e:
            return self._disk_error(e)
        log.info("submission finished by the witness: %d files", len(uploads))
        return _response(202, {"state": inv_mod.RECEIVED})

    async def receipt(self, request: Request) -> Response:
        inv = self._invitation(request)
        if isinstance(inv, Response):
            return inv
        failed = self.state.marker(inv.id, "failed.json")
        if failed is not None:
            return _response(200, {"state": inv_mod.FAILED})
        result = self.state.marker(inv.id, "result.json")
        if result is None:
            return _response(202, {"state": submission_state(self.state, inv, self.now())})
        out: dict[str, Any] = {"state": inv_mod.INGESTED, "code": result.get("code")}
        if not inv.opaque:
            receipt = self.state.read_file(inv.id, "receipt.json")
            page = self.state.read_file(inv.id, "receipt.html")
            out["receipt"] = None if receipt is None else receipt.decode()
            out["receipt_html"] = None if page is None else page.decode()
        return _response(200, out)


def _mismatch_whole(e: tus.TusError) -> bool:
    return "whole file" in e.message


def _cut_quietly(fd: int, offset: int) -> None:
    try:
        cut_back(fd, offset)
    except OSError:
        log.error("could not take back a refused part; the recorded offset stands")


def build_app(app: IntakeApp) -> Starlette:
    """The routes; anything else is 404 (no listing, nothing served back)."""
    routes = [
        Route("/", app.page_view, methods=["GET"]),
        Route("/files", app.create, methods=["POST"]),
        Route("/files", app.options, methods=["OPTIONS"]),
        Route("/files/", app.create, methods=["POST"]),
        Route("/files/{upload}", app.head, methods=["HEAD"]),
        Route("/files/{upload}", app.patch, methods=["PATCH"]),
        Route("/files/{upload}", app.options, methods=["OPTIONS"]),
        Route("/api/status", app.status, methods=["GET"]),
        Route("/api/finish", app.finish, methods=["POST"]),
        Route("/api/receipt", app.receipt, methods=["GET"]),
    ]
    star = Starlette(routes=routes)

    async def missing(request: Request, exc: Exception) -> Response:
        return _error(404, "not found")

    async def method(request: Request, exc: Exception) -> Response:
        return _error(405, "method not allowed")

    star.add_exception_handler(404, missing)
    star.add_exception_handler(405, method)
    return star
