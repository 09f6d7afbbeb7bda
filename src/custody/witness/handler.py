"""The witness itself: a pure `handle(request) -> response`.

It knows the logs it accepts and their keys (a WitnessConfig), a StateStore
and a clock; nothing here opens a socket. The checks follow C2SP
tlog-witness, in its order: 404 unknown origin, 403 no trusted signature,
400 old size above the checkpoint's, 409 old size not the one the witness
holds (body: its size, text/x.tlog.size) or same size with another root,
422 consistency proof fails; then it cosigns, stores the new state durably
and answers 200 with the cosignature line.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from custody.base.errors import CustodyError
from custody.tlog import merkle
from custody.tlog.cosignature import cosign
from custody.tlog.note import Checkpoint, NoteError, checkpoint_signed_by, parse_checkpoint
from custody.witness.protocol import (
    ADD_CHECKPOINT,
    LATEST_CHECKPOINT,
    SIZE_CONTENT_TYPE,
    ProtocolError,
    Request,
    Response,
    parse_add_checkpoint,
)
from custody.witness.state import LogState, StateStore


def _signed_by_known_key(cp: Checkpoint, keys: tuple[Ed25519PublicKey, ...]) -> bool:
    return any(checkpoint_signed_by(cp, key) for key in keys)


@dataclass
class Witness:
    """A witness: its name and key, the logs it accepts, its memory, its clock."""

    name: str
    private_key: Ed25519PrivateKey
    logs: Callable[[], dict[str, tuple[Ed25519PublicKey, ...]]]
    """The logs it accepts and their keys, read at each request (add-log works live)."""
    store: StateStore
    clock: Callable[[], int]
    prefix: str = ""

    def handle(self, request: Request) -> Response:
        """Answer one HTTP request. Never raises for anything a client sends."""
        path = request.path.rstrip("/") if request.path != "/" else request.path
        if path == self.prefix + ADD_CHECKPOINT:
            if request.method != "POST":
                return Response(405, b"add-checkpoint takes POST\n", log="wrong method")
            try:
                return self._add_checkpoint(request.body)
            except CustodyError as e:  # the state could not be read or written
                return Response(500, b"the witness cannot store its state\n", log=e.diagnostics())
        if path == self.prefix + LATEST_CHECKPOINT and request.method == "GET":
            return self._latest(request.query.get("origin", ""))
        return Response(404, b"not found\n", log="no such endpoint")

    def _latest(self, origin: str) -> Response:
        if origin not in self.logs():
            return Response(404, b"unknown log origin\n", log=f"origin={origin!r} unknown")
        try:
            state = self.store.get(origin)
        except CustodyError as e:
            return Response(500, b"the witness cannot read its state\n", log=e.diagnostics())
        if state is None:
            return Response(404, b"no checkpoint cosigned yet\n", log=f"origin={origin} none yet")
        return Response(200, state.checkpoint, log=f"origin={origin} size={state.size}")

    def _add_checkpoint(self, body: bytes) -> Response:
        try:
            req = parse_add_checkpoint(body)
        except ProtocolError as e:
            return Response(400, f"{e}\n".encode(), log=f"malformed: {e}")
        try:
            cp = parse_checkpoint(req.checkpoint)
        except NoteError as e:
            return Response(400, f"checkpoint: {e}\n".encode(), log=f"malformed checkpoint: {e}")
        where = f"origin={cp.origin} old={req.old_size} size={cp.size}"
        keys = self.logs().get(cp.origin)
        if keys is None:
            return Response(404, b"unknown log origin\n", log=f"{where} unknown origin")
        if not _signed_by_known_key(cp, keys):
            return Response(
                403, b"no valid signature by a key of this log\n", log=f"{where} bad signature"
            )
        if req.old_size > cp.size:
            return Response(
                400, b"old size is larger than the checkpoint's\n", log=f"{where} old > size"
            )
        with self.store.locked(cp.origin):
            state = self.store.get(cp.origin)
            held = state.size if state is not None else 0
            if req.old_size != held:
                return Response(
                    409, f"{held}\n".encode(), SIZE_CONTENT_TYPE, f"{where} conflict: holds {held}"
                )
            if state is not None and cp.size == state.size:
                if cp.root != state.root:
                    return Response(
                        409,
                        f"{held}\n".encode(),
                        SIZE_CONTENT_TYPE,
                        f"{where} conflict: another root at the same size (fork)",
                    )
                if req.proof:
                    return Response(422, b"the proof must be empty\n", log=f"{where} bad proof")
            elif req.old_size == 0:
                if req.proof:
                    return Response(
                        422, b"the proof must be empty from size 0\n", log=f"{where} bad proof"
                    )
            else:
                assert state is not None
                if not merkle.verify_consistency(
                    req.old_size, cp.size, state.root, cp.root, req.proof
                ):
                    return Response(
                        422,
                        b"the consistency proof does not verify\n",
                        log=f"{where} consistency proof FAILS (possible fork; checkpoint kept "
                        f"in this log line): {req.checkpoint!r}",
                    )
            line = cosign(
                cp.text, name=self.name, private_key=self.private_key, timestamp=self.clock()
            )
            kept = req.checkpoint if req.checkpoint.endswith(b"\n") else req.checkpoint + b"\n"
            self.store.put(LogState(cp.origin, cp.size, cp.root, kept + line))
        return Response(200, line, log=f"{where} cosigned")
