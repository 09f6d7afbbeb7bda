"""The C2SP tlog-witness add-checkpoint request and response bodies. Pure.

Request body: "old <size>\\n", zero to 63 base64 consistency-proof hashes one
per line, an empty line, then the signed checkpoint. A 200 response carries
cosignature lines; a 409 response carries the witness's size ("<size>\\n",
Content-Type text/x.tlog.size).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

MAX_PROOF_LINES = 63
MAX_BODY_BYTES = 1 << 16
SIZE_CONTENT_TYPE = "text/x.tlog.size"
ADD_CHECKPOINT = "/add-checkpoint"
LATEST_CHECKPOINT = "/checkpoint"

_SIZE = re.compile(rb"0|[1-9][0-9]{0,18}")


class ProtocolError(ValueError):
    """A request or response that does not follow the protocol."""


@dataclass(frozen=True)
class Request:
    """An HTTP request as the handler sees it."""

    method: str
    path: str
    body: bytes = b""
    query: dict[str, str] = field(default_factory=dict)
    client: str = "-"


@dataclass(frozen=True)
class Response:
    """What the handler answers, and one line for the server's log."""

    status: int
    body: bytes = b""
    content_type: str = "text/plain; charset=utf-8"
    log: str = ""


@dataclass(frozen=True)
class AddCheckpoint:
    old_size: int
    proof: tuple[bytes, ...]
    checkpoint: bytes


def add_checkpoint_body(old_size: int, proof: Sequence[bytes], checkpoint: bytes) -> bytes:
    """The body of an add-checkpoint request."""
    lines = [f"old {old_size}\n".encode()]
    lines += [base64.b64encode(h) + b"\n" for h in proof]
    return b"".join(lines) + b"\n" + checkpoint


def parse_size(text: bytes) -> int:
    """A tree size in decimal with no leading zeroes. Raises ProtocolError."""
    if not _SIZE.fullmatch(text):
        raise ProtocolError("not a tree size")
    return int(text)


def parse_add_checkpoint(body: bytes) -> AddCheckpoint:
    """Parse an add-checkpoint request body strictly. Raises ProtocolError."""
    if len(body) > MAX_BODY_BYTES:
        raise ProtocolError("request body is too large")
    first, sep, rest = body.partition(b"\n")
    if not sep or not first.startswith(b"old "):
        raise ProtocolError("the body must start with an 'old <size>' line")
    old_size = parse_size(first[4:])
    proof: list[bytes] = []
    while True:
        line, sep, rest = rest.partition(b"\n")
        if not sep:
            raise ProtocolError("no empty line before the checkpoint")
        if line == b"":
            break
        if len(proof) == MAX_PROOF_LINES:
            raise ProtocolError(f"more than {MAX_PROOF_LINES} consistency proof lines")
        try:
            digest = base64.b64decode(line, validate=True)
        except binascii.Error as e:
            raise ProtocolError("a consistency proof line is not base64") from e
        if len(digest) != 32 or base64.b64encode(digest) != line:
            raise ProtocolError("a consistency proof line is not a 32-byte hash")
        proof.append(digest)
    return AddCheckpoint(old_size, tuple(proof), rest)


def parse_size_response(body: bytes) -> int:
    """The witness's size from a 409 response body. Raises ProtocolError."""
    if not body.endswith(b"\n"):
        raise ProtocolError("a size response must end with a newline")
    return parse_size(body[:-1])
