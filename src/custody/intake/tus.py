"""The tus 1.0 resumable upload protocol (core, creation and checksum
extensions, https://tus.io/protocols/resumable-upload) as pure decisions over
a small upload state. The web adapter streams bytes; these functions say what
each request may do and what to answer.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import secrets
from dataclasses import dataclass, replace
from typing import Any

TUS_VERSION = "1.0.0"
EXTENSIONS = "creation,checksum"
CHECKSUM_ALGORITHMS = "sha256"
OFFSET_CONTENT_TYPE = "application/offset+octet-stream"
UPLOAD_FORMAT = "custody/intake-upload/v1"
STATUS_CHECKSUM_MISMATCH = 460
"""The checksum extension's status for a body whose checksum disagrees."""

MAX_NAME_BYTES = 4096
MAX_METADATA_BYTES = 16384
_UPLOAD_ID = re.compile(r"^[A-Za-z0-9_-]{22}$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


class TusError(Exception):
    """A request the protocol refuses: the status to answer and why (no evidence in it)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Upload:
    """One file being uploaded: what the server keeps beside its bytes."""

    id: str
    invitation: str
    length: int
    offset: int
    name: str | None
    """The file name exactly as the client gave it (UTF-8 text, never used as a path)."""
    name_b64: str | None
    """The name's bytes as sent (base64), so a name that is not UTF-8 is kept too."""
    expected_sha256: str | None
    """The whole-file SHA-256 the client announced (checked when the last byte arrives)."""
    sha256: str | None
    """The SHA-256 the server computed over every byte, once complete."""
    created: str
    number: int
    """1, 2, 3...: its position in the submission (the order files were offered)."""

    @property
    def complete(self) -> bool:
        return self.offset == self.length and self.sha256 is not None

    def to_json(self) -> dict[str, Any]:
        return {
            "format": UPLOAD_FORMAT,
            "id": self.id,
            "invitation": self.invitation,
            "length": self.length,
            "offset": self.offset,
            "name": self.name,
            "name_b64": self.name_b64,
            "expected_sha256": self.expected_sha256,
            "sha256": self.sha256,
            "created": self.created,
            "number": self.number,
        }

    @classmethod
    def from_json(cls, doc: Any) -> Upload:
        if not isinstance(doc, dict) or doc.get("format") != UPLOAD_FORMAT:
            raise ValueError("not a custody upload state")
        try:
            up = cls(
                id=str(doc["id"]),
                invitation=str(doc["invitation"]),
                length=int(doc["length"]),
                offset=int(doc["offset"]),
                name=None if doc["name"] is None else str(doc["name"]),
                name_b64=None if doc["name_b64"] is None else str(doc["name_b64"]),
                expected_sha256=doc["expected_sha256"],
                sha256=doc["sha256"],
                created=str(doc["created"]),
                number=int(doc["number"]),
            )
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"damaged upload state ({e.__class__.__name__})") from e
        if not 0 <= up.offset <= up.length:
            raise ValueError("damaged upload state (offset out of range)")
        return up

    def advanced(self, offset: int, sha256: str | None) -> Upload:
        return replace(self, offset=offset, sha256=sha256)


def new_upload_id() -> str:
    return secrets.token_urlsafe(16)


def well_formed_upload_id(text: str) -> bool:
    return bool(_UPLOAD_ID.match(text))


def require_version(headers: dict[str, str]) -> None:
    """Every request but OPTIONS names the protocol version (412 otherwise)."""
    if headers.get("tus-resumable") != TUS_VERSION:
        raise TusError(412, f"Tus-Resumable: {TUS_VERSION} is required")


def _non_negative(value: str | None, header: str) -> int:
    if value is None or not value.isdigit() or len(value) > 18:
        raise TusError(400, f"{header} must be a non-negative integer")
    return int(value)


def parse_metadata(value: str | None) -> dict[str, bytes]:
    """Upload-Metadata: comma-separated `key base64value` pairs (value optional)."""
    if not value:
        return {}
    if len(value) > MAX_METADATA_BYTES:
        raise TusError(400, "Upload-Metadata is too long")
    out: dict[str, bytes] = {}
    for pair in value.split(","):
        parts = pair.strip().split(" ")
        if not parts[0] or len(parts) > 2 or parts[0] in out:
            raise TusError(400, "Upload-Metadata is malformed")
        try:
            out[parts[0]] = base64.b64decode(parts[1], validate=True) if len(parts) == 2 else b""
        except (binascii.Error, ValueError) as e:
            raise TusError(400, "Upload-Metadata holds a value that is not base64") from e
    return out


def plan_creation(
    headers: dict[str, str],
    *,
    invitation: str,
    used_bytes: int,
    used_files: int,
    max_bytes: int,
    max_files: int,
    now: str,
) -> Upload:
    """The upload a creation request (POST) makes, or TusError.

    The whole declared length counts against the invitation's limit at
    creation, so a witness learns at once that a file is too large."""
    require_version(headers)
    if "upload-defer-length" in headers:
        raise TusError(400, "Upload-Defer-Length is not supported")
    length = _non_negative(headers.get("upload-length"), "Upload-Length")
    if used_files + 1 > max_files:
        raise TusError(413, f"this invitation allows {max_files} files")
    if used_bytes + length > max_bytes:
        raise TusError(413, f"this invitation allows {max_bytes} bytes in all")
    meta = parse_metadata(headers.get("upload-metadata"))
    raw_name = meta.get("filename", meta.get("name"))
    if raw_name is not None and len(raw_name) > MAX_NAME_BYTES:
        raise TusError(400, "the file name is too long")
    expected = meta.get("sha256")
    expected_hex: str | None = None
    if expected is not None:
        expected_hex = expected.decode("ascii", "replace").lower()
        if not _HEX64.match(expected_hex):
            raise TusError(400, "the sha256 metadata must be 64 hexadecimal digits")
    empty = hashlib.sha256(b"").hexdigest()
    if length == 0 and expected_hex not in (None, empty):
        raise TusError(STATUS_CHECKSUM_MISMATCH, "an empty file cannot have that SHA-256")
    return Upload(
        id=new_upload_id(),
        invitation=invitation,
        length=length,
        offset=0,
        name=None if raw_name is None else raw_name.decode("utf-8", "surrogateescape"),
        name_b64=None if raw_name is None else base64.b64encode(raw_name).decode(),
        expected_sha256=expected_hex,
        sha256=empty if length == 0 else None,  # complete at once: tus clients send no PATCH
        created=now,
        number=used_files + 1,
    )


@dataclass(frozen=True)
class PatchPlan:
    """What a PATCH may write: from `offset`, at most `limit` bytes, and the
    digest the body must have (None: no checksum sent)."""

    offset: int
    limit: int
    checksum: bytes | None


def plan_patch(headers: dict[str, str], upload: Upload) -> PatchPlan:
    """Check a PATCH's headers against the upload's state, or TusError."""
    require_version(headers)
    if headers.get("content-type", "").split(";")[0].strip().lower() != OFFSET_CONTENT_TYPE:
        raise TusError(415, f"Content-Type must be {OFFSET_CONTENT_TYPE}")
    offset = _non_negative(headers.get("upload-offset"), "Upload-Offset")
    if offset != upload.offset:
        raise TusError(409, f"Upload-Offset {offset} does not match {upload.offset}")
    if upload.complete:
        raise TusError(409, "this upload is already complete")
    checksum = parse_checksum(headers.get("upload-checksum"))
    limit = upload.length - upload.offset
    declared = headers.get("content-length")
    if declared is not None and _non_negative(declared, "Content-Length") > limit:
        raise TusError(413, "the body is longer than what is left of the upload")
    return PatchPlan(offset, limit, checksum)


def parse_checksum(value: str | None) -> bytes | None:
    """Upload-Checksum `sha256 <base64 digest>`; another algorithm is 400."""
    if value is None:
        return None
    parts = value.strip().split(" ")
    if len(parts) != 2:
        raise TusError(400, "Upload-Checksum is malformed")
    if parts[0].lower() != "sha256":
        raise TusError(400, f"checksum algorithm not supported (use {CHECKSUM_ALGORITHMS})")
    try:
        digest = base64.b64decode(parts[1], validate=True)
    except (binascii.Error, ValueError) as e:
        raise TusError(400, "Upload-Checksum is not base64") from e
    if len(digest) != 32:
        raise TusError(400, "Upload-Checksum is not a SHA-256 digest")
    return digest


def judge_body(plan: PatchPlan, *, digest: bytes, whole: bool) -> None:
    """After the body: TusError when its checksum disagrees (nothing is kept),
    or when a checksummed body stopped short (it cannot be checked)."""
    if plan.checksum is None:
        return
    if not whole:
        raise TusError(400, "the body ended before its declared end; send it again")
    if digest != plan.checksum:
        raise TusError(STATUS_CHECKSUM_MISMATCH, "checksum mismatch: nothing of this part was kept")


def judge_complete(upload: Upload, sha256: str) -> None:
    """When the last byte arrived: the whole file must have the digest announced."""
    if upload.expected_sha256 is not None and upload.expected_sha256 != sha256:
        raise TusError(
            STATUS_CHECKSUM_MISMATCH,
            "the whole file's SHA-256 is not the one announced: it was discarded; send it again",
        )


def options_headers(max_size: int) -> dict[str, str]:
    return {
        "Tus-Resumable": TUS_VERSION,
        "Tus-Version": TUS_VERSION,
        "Tus-Extension": EXTENSIONS,
        "Tus-Checksum-Algorithm": CHECKSUM_ALGORITHMS,
        "Tus-Max-Size": str(max_size),
    }
