"""One file's metadata record with every field present and nothing known yet:
the shape every extractor fills (docs/metadata.md)."""

from __future__ import annotations

from typing import Any


def empty_record(rel_path: str, sha256: str | None, size: int) -> dict[str, Any]:
    """A record with every field present and nothing known yet (an archive
    member's SHA-256 is filled in once it is read)."""
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
        "c2pa": None,
        "details": {},
        "errors": [],
    }
