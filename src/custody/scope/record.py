"""The scope record's format: a folder of five files, checkable by hand.

    scope.json      what was selected and why: RFC 8785 canonical JSON (signed)
    scope.sig       the raw 64-byte Ed25519 signature over scope.json
    signer.pub      the officer's public key (PEM with a name line)
    notice<.ext>    the notice given to the witness, byte for byte
    selected.jsonl  one item a line: ["<bundle path>","<member path>"] (RFC 8785)

scope.json names the bundle (id and statement SHA-256), the filter text, the
reason, the notice's name, size and SHA-256, and the selected list's SHA-256,
count and Merkle root (RFC 6962 hashing, the ledger's: leaf = SHA-256(0x00 ||
line without its LF), in the list's order, which is the bundle's item order).
A later commitment over every item of the bundle can prove each selected leaf
is in it without showing the others.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import rfc8785

from custody.tlog.merkle import CompactRange, leaf_hash

SCOPE_FORMAT = "custody/scope/v1"
SCOPE_JSON = "scope.json"
SCOPE_SIG = "scope.sig"
SIGNER_PUB = "signer.pub"
SELECTED = "selected.jsonl"
NOTICE_STEM = "notice"
MAX_REASON = 4000


class ScopeRecordError(ValueError):
    """scope.json is not a scope record custody can read."""


def scope_bytes(scope: dict[str, Any]) -> bytes:
    """The one byte form of scope.json that is signed (RFC 8785)."""
    return bytes(rfc8785.dumps(scope))


def parse_scope(data: bytes) -> dict[str, Any]:
    """scope.json as a dict. Raises ScopeRecordError when it is not canonical
    JSON in the scope format."""
    try:
        scope = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ScopeRecordError(f"scope.json is not JSON ({e})") from e
    if not isinstance(scope, dict) or scope.get("format") != SCOPE_FORMAT:
        raise ScopeRecordError(f"scope.json is not a {SCOPE_FORMAT} record")
    if scope_bytes(scope) != data:
        raise ScopeRecordError("scope.json is not in its canonical (RFC 8785) form")
    for key in ("bundle", "notice", "selected"):
        if not isinstance(scope.get(key), dict):
            raise ScopeRecordError(f"scope.json has no {key!r} object")
    return scope


class SelectedList:
    """The selected list as it is written: its lines' SHA-256, count and Merkle root."""

    def __init__(self) -> None:
        import hashlib

        self._sha = hashlib.sha256()
        self._tree = CompactRange()
        self.count = 0

    def add(self, leaf: bytes) -> bytes:
        """Add one item's canonical bytes; returns the line to write."""
        line = leaf + b"\n"
        self._sha.update(line)
        self._tree.append(leaf_hash(leaf))
        self.count += 1
        return line

    def summary(self) -> dict[str, Any]:
        return {
            "file": SELECTED,
            "sha256": self._sha.hexdigest(),
            "count": self.count,
            "merkle_root": self._tree.root().hex() if self.count else None,
        }


def summarise_lines(data: bytes) -> dict[str, Any]:
    """The summary of a selected.jsonl as read back. Raises ScopeRecordError
    on a line that is not a canonical item name."""
    listed = SelectedList()
    if data and not data.endswith(b"\n"):
        raise ScopeRecordError("selected.jsonl does not end with a line feed")
    for n, line in enumerate(data.split(b"\n")[:-1], start=1):
        try:
            value = json.loads(line)
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise ScopeRecordError(f"selected.jsonl line {n} is not JSON") from e
        if (
            not isinstance(value, list)
            or len(value) != 2
            or not all(isinstance(v, str) for v in value)
            or bytes(rfc8785.dumps(value)) != line
        ):
            raise ScopeRecordError(f"selected.jsonl line {n} is not a canonical item name")
        listed.add(line)
    return listed.summary()


@dataclass(frozen=True)
class ScopeFiles:
    """A scope record's files as read (None: absent)."""

    location: str
    scope: bytes | None
    signature: bytes | None
    signer: bytes | None
    notice_name: str | None
    notice: bytes | None
    selected: bytes | None
