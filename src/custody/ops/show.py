"""`custody show`: the metadata of a bundle, as recorded at ingest."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from custody.base.errors import InputError
from custody.base.hashing import sha256_bytes
from custody.bundle.format import layout
from custody.bundle.format.statement import StatementError, parse_statement
from custody.bundle.read.reader import scan_bundle


@dataclass(frozen=True)
class BundleMetadata:
    """The metadata records of a bundle and whether they are the signed ones."""

    bundle: str
    statement: dict[str, Any] | None
    files: tuple[dict[str, Any], ...]
    matches_statement: bool

    def to_json(self) -> dict[str, Any]:
        st = self.statement or {}
        return {
            "bundle": self.bundle,
            "bundle_id": st.get("bundle_id"),
            "case": st.get("case"),
            "exhibit": st.get("exhibit"),
            "metadata_matches_statement": self.matches_statement,
            "files": list(self.files),
        }


def read_metadata(*, bundle: Path) -> BundleMetadata:
    """Read custody/metadata.json from a bundle folder or archive. Raises
    NotABundleError, or InputError when the metadata cannot be read."""
    scan = scan_bundle(bundle, hash_payload=False)
    data = scan.read_tag(layout.METADATA)
    if data is None:
        raise InputError("the bundle has no custody/metadata.json", path=str(bundle))
    try:
        doc = json.loads(data.decode("utf-8"))
        files = tuple(r for r in doc["files"] if isinstance(r, dict))
    except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as e:
        raise InputError("custody/metadata.json is damaged", path=str(bundle)) from e
    statement = None
    matches = False
    raw = scan.tag_bytes.get(layout.STATEMENT)
    if raw is not None:
        try:
            statement = parse_statement(raw)
            matches = statement["metadata_sha256"] == sha256_bytes(data)
        except StatementError:
            statement = None
    return BundleMetadata(str(bundle), statement, files, matches)
