"""Metadata extraction: one normalised record per evidence file.

Every record has the same fields whatever the file's type (docs/metadata.md);
unknown values are null. Extraction never raises for a bad file: problems go
into the record's `errors` list.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

METADATA_FORMAT = "custody/metadata/v1"


def extract_record(*, copy_path: Path, rel_path: str, sha256: str, size: int) -> dict[str, Any]:
    """The normalised metadata record of one file, read from its copy in the bundle."""
    return {
        "path": rel_path,
        "sha256": sha256,
        "size": size,
        "mime": None,
        "extension_mismatch": None,
        "captured_at": None,
        "gps": None,
        "device": None,
        "duration_s": None,
        "width": None,
        "height": None,
        "details": {},
        "errors": [],
    }


def metadata_document(records: Iterable[dict[str, Any]]) -> bytes:
    """The bytes of custody/metadata.json: deterministic (sorted keys, records
    sorted by path) so the same files always give the same bytes."""
    doc = {
        "format": METADATA_FORMAT,
        "files": sorted(records, key=lambda r: str(r["path"]).encode("utf-8", "surrogateescape")),
    }
    text = json.dumps(doc, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False)
    return (text + "\n").encode("utf-8")
