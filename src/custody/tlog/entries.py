"""Ledger entries: deterministic JSON records, signed by the key that acted. Pure."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

import rfc8785
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from custody.base.keys import fingerprint_of

ENTRY_FORMAT = "custody/ledger-entry/v1"
ACTIONS = (
    "keygen",
    "trust",
    "ingest",
    "transfer",
    "receive",
    "handover-close",
    "verify",
    "abandoned",
    "authority-init",
    "authority-add",
    "authority-revoke",
    "authority-rotate",
    "authority-export",
    "timestamp",
    "staple",
    "store",
    "select",  # a scope record (custody select, docs/extraction.md)
    "similar-analysis",
    "similar-confirm",
    "similar-reject",
    "disclose",
)


class EntryError(ValueError):
    """Stored entry bytes that are not a valid ledger entry."""


@dataclass(frozen=True)
class Actor:
    """Who acted: a name and an Ed25519 public key."""

    name: str
    public_key: Ed25519PublicKey

    @property
    def fingerprint(self) -> str:
        return fingerprint_of(self.public_key)

    def to_json(self) -> dict[str, str]:
        return {
            "name": self.name,
            "fingerprint": self.fingerprint,
            "public_key": base64.b64encode(raw_public_key(self.public_key)).decode(),
        }


def raw_public_key(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def entry_bytes(
    *,
    index: int,
    prev_leaf_hash: bytes | None,
    time: str,
    action: str,
    actor: Actor,
    subject: dict[str, Any],
) -> bytes:
    """The canonical (RFC 8785) bytes of one ledger entry: what is signed and hashed."""
    if action not in ACTIONS:
        raise ValueError(f"unknown ledger action {action!r}")
    obj: dict[str, Any] = {
        "format": ENTRY_FORMAT,
        "index": index,
        "prev": prev_leaf_hash.hex() if prev_leaf_hash is not None else None,
        "time": time,
        "action": action,
        "actor": actor.to_json(),
        "subject": subject,
    }
    return bytes(rfc8785.dumps(obj))


_ASTRAL = re.compile("[\U00010000-\U0010ffff]")


def is_canonical(obj: Any, data: bytes) -> bool:
    """True when `data` is the RFC 8785 serialisation of `obj`.

    For JSON without floats and without characters beyond the BMP, RFC 8785
    is exactly Python's sorted, compact, non-ASCII-preserving json.dumps; that
    fast path matters when a ledger of 100,000 entries is checked. Anything
    else goes through the rfc8785 package.
    """
    text = data.decode("utf-8", "replace")
    if _ASTRAL.search(text) is None and not _has_float(obj):
        fast = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return fast.encode("utf-8") == data
    try:
        return bytes(rfc8785.dumps(obj)) == data
    except Exception:  # rfc8785 raises its own types for values it cannot encode
        return False


def _has_float(obj: Any) -> bool:
    if isinstance(obj, float):
        return True
    if isinstance(obj, dict):
        return any(_has_float(v) for v in obj.values())
    if isinstance(obj, list):
        return any(_has_float(v) for v in obj)
    return False


@dataclass(frozen=True)
class ParsedEntry:
    index: int
    prev: str | None
    time: str
    action: str
    actor_name: str
    actor_fingerprint: str
    actor_key: Ed25519PublicKey
    subject: dict[str, Any]


def parse_entry(data: bytes) -> ParsedEntry:
    """Parse stored entry bytes strictly (canonical form, fields, key).
    Raises EntryError."""
    try:
        obj = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise EntryError("not JSON") from e
    if not isinstance(obj, dict) or obj.get("format") != ENTRY_FORMAT:
        raise EntryError("not a custody ledger entry")
    if not is_canonical(obj, data):
        raise EntryError("not in canonical form")
    try:
        actor = obj["actor"]
        raw = base64.b64decode(actor["public_key"], validate=True)
        key = Ed25519PublicKey.from_public_bytes(raw)
        parsed = ParsedEntry(
            index=int(obj["index"]),
            prev=obj["prev"],
            time=str(obj["time"]),
            action=str(obj["action"]),
            actor_name=str(actor["name"]),
            actor_fingerprint=str(actor["fingerprint"]),
            actor_key=key,
            subject=dict(obj["subject"]),
        )
    except (KeyError, TypeError, ValueError) as e:
        raise EntryError(f"missing or malformed field ({e})") from e
    if hashlib.sha256(raw).hexdigest() != parsed.actor_fingerprint:
        raise EntryError("actor fingerprint does not match actor public key")
    return parsed
