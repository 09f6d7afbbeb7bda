"""A scope record used as a limit: which items an analysis or a disclosure
may use. Read once, checked for what can be checked without the bundle's
other items (signature by the key it names, the list it signed), and held as
a set of item names.

Whether the signer is trusted and whether the filter selects exactly these
items is `custody verify --scope`'s to say (check.py): limiting work to a
scope never widens it, so a record that is whole and self-consistent is
enough to limit by, and the output names the record's SHA-256 for that check.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from custody.base.errors import InputError
from custody.base.hashing import sha256_bytes
from custody.base.keys import fingerprint_of, parse_public_key_file
from custody.base.signing import signature_is_valid
from custody.scope.check import read_scope_files
from custody.scope.record import ScopeRecordError, parse_scope, summarise_lines

PAYLOAD = "data/"


@dataclass(frozen=True)
class ScopeLimit:
    """A scope record's identity and its selected items."""

    record: str
    scope_id: str
    scope_sha256: str
    bundle_id: str
    statement_sha256: str
    selected: frozenset[tuple[str, str]]
    merkle_root: str | None

    def holds(self, bundle_path: str, member: str = "") -> bool:
        return (bundle_path, member) in self.selected

    def holds_file(self, rel: str) -> bool:
        """Whether the payload file at `rel` (a path under data/) is selected."""
        return (PAYLOAD + rel, "") in self.selected

    def to_json(self) -> dict[str, Any]:
        return {
            "record": self.record,
            "scope_id": self.scope_id,
            "scope_sha256": self.scope_sha256,
            "bundle_id": self.bundle_id,
            "statement_sha256": self.statement_sha256,
            "selected": len(self.selected),
            "merkle_root": self.merkle_root,
        }


def load_scope_limit(record: Path) -> ScopeLimit:
    """The scope record at `record`, checked to be whole and signed by the key
    it names. Raises InputError (one line naming the record) otherwise."""
    files = read_scope_files(record)

    def bad(problem: str) -> InputError:
        return InputError(f"scope record: {problem}", path=str(record))

    try:
        scope = parse_scope(files.scope or b"")
    except ScopeRecordError as e:
        raise bad(str(e)) from e
    if files.signer is None or files.signature is None:
        raise bad("scope.sig or signer.pub is missing")
    try:
        info = parse_public_key_file(files.signer)
    except Exception as e:  # a damaged key file: one line, not a traceback
        raise bad(f"signer.pub cannot be read ({e})") from e
    if fingerprint_of(info.public_key) != scope.get("key_fingerprint"):
        raise bad("scope.json names another key than signer.pub")
    if not signature_is_valid(info.public_key, files.signature, files.scope or b""):
        raise bad("scope.sig is not a valid signature over scope.json")
    if files.selected is None:
        raise bad("selected.jsonl is missing")
    try:
        listed = summarise_lines(files.selected)
    except ScopeRecordError as e:
        raise bad(str(e)) from e
    claimed = scope["selected"]
    if any(listed[k] != claimed.get(k) for k in ("sha256", "count", "merkle_root")):
        raise bad("selected.jsonl differs from the list scope.json signed")
    pairs = set()
    for line in files.selected.split(b"\n")[:-1]:
        value = json.loads(line)
        pairs.add((value[0], value[1]))
    target = scope["bundle"]
    return ScopeLimit(
        record=str(record),
        scope_id=str(scope.get("scope_id")),
        scope_sha256=sha256_bytes(files.scope or b""),
        bundle_id=str(target.get("bundle_id")),
        statement_sha256=str(target.get("statement_sha256")),
        selected=frozenset(pairs),
        merkle_root=claimed.get("merkle_root"),
    )
