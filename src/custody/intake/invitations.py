"""Invitations: one capability link per witness. Pure.

The token is 32 random bytes (base64url); the server keeps only its SHA-256,
so a copy of the state folder cannot upload. An invitation expires, can be
revoked, and limits the bytes and files a witness may send.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

INVITATION_FORMAT = "custody/intake-invitation/v1"
TOKEN_BYTES = 32
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{43}$")

OPEN = "open"
UPLOADING = "uploading"
RECEIVED = "received"
INGESTED = "ingested"
EXPIRED = "expired"
REVOKED = "revoked"
FAILED = "failed"
STATES = (OPEN, UPLOADING, RECEIVED, INGESTED, EXPIRED, REVOKED, FAILED)

_DURATION = re.compile(r"^([1-9][0-9]{0,5})([mhdw])$")
_SIZE = re.compile(r"^([1-9][0-9]{0,15})([KMGT]?)(i?B)?$", re.IGNORECASE)
_UNITS = {"": 1, "K": 1000, "M": 1000**2, "G": 1000**3, "T": 1000**4}


def new_token() -> str:
    """A fresh unguessable capability token (256 bits, base64url, 43 characters)."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(token: str) -> str:
    """The SHA-256 (hex) of a token: the only form the server keeps."""
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


def well_formed_token(token: str) -> bool:
    """True for text shaped like a token custody makes (checked before any lookup)."""
    return bool(_TOKEN.match(token))


def parse_duration(text: str) -> timedelta:
    """`30m`, `12h`, `7d`, `2w` as a timedelta; ValueError otherwise."""
    m = _DURATION.match(text.strip())
    if not m:
        raise ValueError(f"not a duration: {text!r} (use e.g. 12h, 7d, 2w)")
    n, unit = int(m.group(1)), m.group(2)
    return {"m": timedelta(minutes=n), "h": timedelta(hours=n), "d": timedelta(days=n)}.get(
        unit, timedelta(weeks=n)
    )


def parse_size(text: str) -> int:
    """`500M`, `20G`, `1T`, `1048576` as bytes (decimal units); ValueError otherwise."""
    m = _SIZE.match(text.strip())
    if not m:
        raise ValueError(f"not a size: {text!r} (use e.g. 500M, 20G)")
    return int(m.group(1)) * _UNITS[m.group(2).upper()]


def iso(moment: datetime) -> str:
    """UTC to the second with a Z, as every time in custody."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


@dataclass(frozen=True)
class Invitation:
    """One witness's invitation as the server stores it (never the token)."""

    id: str
    """The token's SHA-256 (hex)."""
    case: str
    ref: str
    created: str
    expires: str
    max_bytes: int
    max_files: int
    opaque: bool
    revoked: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "format": INVITATION_FORMAT,
            "id": self.id,
            "case": self.case,
            "ref": self.ref,
            "created": self.created,
            "expires": self.expires,
            "max_bytes": self.max_bytes,
            "max_files": self.max_files,
            "opaque": self.opaque,
            "revoked": self.revoked,
        }

    @classmethod
    def from_json(cls, doc: Any) -> Invitation:
        """Raises ValueError for anything but an invitation custody wrote."""
        if not isinstance(doc, dict) or doc.get("format") != INVITATION_FORMAT:
            raise ValueError("not a custody invitation")
        try:
            inv = cls(
                id=str(doc["id"]),
                case=str(doc["case"]),
                ref=str(doc["ref"]),
                created=str(doc["created"]),
                expires=str(doc["expires"]),
                max_bytes=int(doc["max_bytes"]),
                max_files=int(doc["max_files"]),
                opaque=bool(doc["opaque"]),
                revoked=None if doc.get("revoked") is None else str(doc["revoked"]),
            )
            parse_iso(inv.expires)
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"damaged invitation ({e.__class__.__name__})") from e
        return inv

    def revoke(self, now: datetime) -> Invitation:
        return self if self.revoked else replace(self, revoked=iso(now))

    def expired(self, now: datetime) -> bool:
        return now >= parse_iso(self.expires)

    def refusal(self, now: datetime) -> str | None:
        """Why this invitation may not upload now, or None."""
        if self.revoked is not None:
            return "this invitation was withdrawn"
        if self.expired(now):
            return "this invitation has expired"
        return None


def make_invitation(
    *,
    case: str,
    ref: str,
    now: datetime,
    valid_for: timedelta,
    max_bytes: int,
    max_files: int,
    opaque: bool,
) -> tuple[str, Invitation]:
    """A new token and the invitation the server keeps for it."""
    if not ref.strip() or len(ref) > 100 or any(ord(c) < 32 for c in ref):
        raise ValueError("--ref must be 1 to 100 printable characters")
    if max_bytes <= 0 or max_files <= 0:
        raise ValueError("the size and file limits must be positive")
    token = new_token()
    return token, Invitation(
        id=token_hash(token),
        case=case,
        ref=ref,
        created=iso(now),
        expires=iso(now + valid_for),
        max_bytes=max_bytes,
        max_files=max_files,
        opaque=opaque,
    )
