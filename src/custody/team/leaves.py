"""Team-log leaves: what an officer's publish adds to the team's Merkle tree. Pure.

A leaf is RFC 8785 canonical JSON. The officer's signed bytes travel inside it
unchanged, as a JSON string (the entry and the checkpoint are UTF-8 text, so the
string decodes back to exactly the bytes that were signed):

    {"entry":"<entry>","format":"custody/team-leaf/v1","kind":"entry",
     "ledger":"custody-ledger/<uuid>","signature":"<base64>"}
    {"checkpoint":"<the officer's signed checkpoint>","format":...,"kind":"checkpoint",...}
    {"detail":"...","format":...,"kind":"refusal","ledger":...,"offered":"<checkpoint>",
     "reason":"rolled_back|forked|inconsistent","team_had":"<checkpoint>|null"}

A refusal carries no time so that the same refused offer, made again, is the same
leaf and is not recorded twice.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

import rfc8785

from custody.tlog.entries import EntryError, ParsedEntry, is_canonical, parse_entry

LEAF_FORMAT = "custody/team-leaf/v1"
KINDS = ("entry", "checkpoint", "refusal")
REFUSALS = ("rolled_back", "forked", "inconsistent")


class LeafError(ValueError):
    """Bytes that are not a valid team-log leaf."""


def _dump(obj: dict[str, Any]) -> bytes:
    return bytes(rfc8785.dumps(obj))


def entry_leaf(ledger: str, entry: bytes, signature: bytes) -> bytes:
    return _dump(
        {
            "format": LEAF_FORMAT,
            "kind": "entry",
            "ledger": ledger,
            "entry": entry.decode("utf-8"),
            "signature": base64.b64encode(signature).decode(),
        }
    )


def checkpoint_leaf(ledger: str, note: bytes) -> bytes:
    return _dump(
        {
            "format": LEAF_FORMAT,
            "kind": "checkpoint",
            "ledger": ledger,
            "checkpoint": note.decode("utf-8"),
        }
    )


def refusal_leaf(
    ledger: str, reason: str, detail: str, offered: bytes | None, team_had: bytes | None
) -> bytes:
    if reason not in REFUSALS:
        raise ValueError(f"unknown refusal {reason!r}")
    return _dump(
        {
            "format": LEAF_FORMAT,
            "kind": "refusal",
            "ledger": ledger,
            "reason": reason,
            "detail": detail,
            "offered": offered.decode("utf-8", "replace") if offered is not None else None,
            "team_had": team_had.decode("utf-8") if team_had is not None else None,
        }
    )


@dataclass(frozen=True)
class ParsedLeaf:
    kind: str
    ledger: str
    entry: bytes | None = None
    signature: bytes | None = None
    parsed_entry: ParsedEntry | None = None
    checkpoint: bytes | None = None
    reason: str | None = None
    detail: str | None = None

    def columns(self) -> tuple[str, str, int | None, str | None, str | None]:
        """What the database indexes a leaf by: kind, ledger, entry index, case,
        bundle. Derived from the leaf, and checked against it by `team verify`."""
        e = self.parsed_entry
        if e is None:
            return self.kind, self.ledger, None, None, None
        case, bundle = e.subject.get("case"), e.subject.get("bundle_id")
        return (
            self.kind,
            self.ledger,
            e.index,
            case if isinstance(case, str) else None,
            bundle if isinstance(bundle, str) else None,
        )


def parse_leaf(data: bytes) -> ParsedLeaf:
    """Parse stored leaf bytes strictly (canonical form, known kind, and for
    an entry its own strict parse). Raises LeafError. Signatures are not
    checked here."""
    try:
        obj = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise LeafError("not JSON") from e
    if not isinstance(obj, dict) or obj.get("format") != LEAF_FORMAT:
        raise LeafError("not a custody team-log leaf")
    if not is_canonical(obj, data):
        raise LeafError("not in canonical form")
    kind, ledger = obj.get("kind"), obj.get("ledger")
    if kind not in KINDS or not isinstance(ledger, str):
        raise LeafError("unknown leaf kind or no ledger")
    try:
        if kind == "entry":
            entry = str(obj["entry"]).encode("utf-8")
            signature = base64.b64decode(obj["signature"], validate=True)
            return ParsedLeaf(kind, ledger, entry, signature, parse_entry(entry))
        if kind == "checkpoint":
            return ParsedLeaf(kind, ledger, checkpoint=str(obj["checkpoint"]).encode("utf-8"))
        offered = obj["offered"]
        return ParsedLeaf(
            kind,
            ledger,
            checkpoint=offered.encode("utf-8") if isinstance(offered, str) else None,
            reason=str(obj["reason"]),
            detail=str(obj["detail"]),
        )
    except EntryError as e:
        raise LeafError(f"the officer's entry: {e}") from e
    except (KeyError, TypeError, AttributeError, ValueError) as e:  # base64 errors too
        raise LeafError(f"missing or malformed field ({e.__class__.__name__})") from e
