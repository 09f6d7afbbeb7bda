"""The signed statement: the one function that makes the bytes that get signed.

The statement is RFC 8785 canonical JSON (no floats, sorted keys, no
whitespace). Those exact bytes are stored in custody/statement.json and the
signature covers them; a verifier never re-serialises. docs/format.md lists
the fields.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

import rfc8785

STATEMENT_FORMAT = "custody/statement/v1"


@dataclass(frozen=True)
class Statement:
    """What the officer's signature asserts about a bundle."""

    bundle_id: str
    case: str
    exhibit: str | None
    officer: str
    key_fingerprint: str
    created: str
    tool: str
    file_count: int
    total_bytes: int
    manifest_sha256: str
    bag_info_sha256: str
    metadata_sha256: str
    note: str | None
    format: str = STATEMENT_FORMAT
    names_sha256: str | None = None
    """SHA-256 of custody/names.json; only a bundle that has one names it."""
    similar_sha256: str | None = None
    """SHA-256 of custody/similar.json (perceptual analysis); only a bundle that has one."""
    commitments: dict[str, Any] | None = None
    """Root and counts of the salted commitments (custody.disclosure); absent
    in bundles made before they existed."""


def statement_bytes(statement: Statement) -> bytes:
    """The canonical bytes that are stored and signed. `names_sha256` is left
    out when there is no names file, so such statements are what they were."""
    fields = asdict(statement)
    if fields["names_sha256"] is None:
        del fields["names_sha256"]
    if fields["similar_sha256"] is None:
        del fields["similar_sha256"]
    if fields["commitments"] is None:
        del fields["commitments"]
    return bytes(rfc8785.dumps(fields))


class StatementError(ValueError):
    """The stored statement cannot be read as a custody statement."""


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise StatementError(f"duplicate key '{key}'")
        seen[key] = value
    return seen


_STR_FIELDS = (
    "bundle_id",
    "case",
    "officer",
    "key_fingerprint",
    "created",
    "tool",
    "manifest_sha256",
    "bag_info_sha256",
    "metadata_sha256",
    "format",
)
_INT_FIELDS = ("file_count", "total_bytes")
_OPT_STR_FIELDS = ("exhibit", "note")


def parse_statement(data: bytes) -> dict[str, Any]:
    """Parse stored statement bytes strictly. Returns the fields.

    Raises StatementError when the bytes are not UTF-8 JSON, have duplicate
    keys, are not in canonical form, or lack a field of the right type.
    """
    try:
        obj = json.loads(data.decode("utf-8"), object_pairs_hook=_reject_duplicates)
    except UnicodeDecodeError as e:
        raise StatementError("not UTF-8") from e
    except json.JSONDecodeError as e:
        raise StatementError(f"not JSON ({e.msg} at byte {e.pos})") from e
    if not isinstance(obj, dict):
        raise StatementError("not a JSON object")
    if obj.get("format") != STATEMENT_FORMAT:
        raise StatementError(f"unknown format {obj.get('format')!r}")
    for name in _STR_FIELDS:
        if not isinstance(obj.get(name), str):
            raise StatementError(f"field '{name}' missing or not a string")
    for name in _INT_FIELDS:
        value = obj.get(name)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise StatementError(f"field '{name}' missing or not a count")
    for name in _OPT_STR_FIELDS:
        if name not in obj or not (obj[name] is None or isinstance(obj[name], str)):
            raise StatementError(f"field '{name}' missing or not a string or null")
    if "names_sha256" in obj and not isinstance(obj["names_sha256"], str):
        raise StatementError("field 'names_sha256' is not a string")
    if "similar_sha256" in obj and not isinstance(obj["similar_sha256"], str):
        raise StatementError("field 'similar_sha256' is not a string")
    try:
        canonical = bytes(rfc8785.dumps(obj))
    except Exception as e:  # rfc8785 raises its own errors for values it cannot encode
        raise StatementError(f"cannot be canonicalised: {e}") from e
    if canonical != data:
        raise StatementError("not in canonical (RFC 8785) form")
    return obj
