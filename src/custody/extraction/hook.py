"""The calls ingest makes per copied file: is it an extraction (detect.py),
and if so its members file is written and its record says so (record.py)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .detect import extraction_kind

__all__ = ["ExtractionsWritten", "add_members", "extraction_kind"]


@dataclass
class ExtractionsWritten:
    """What the members files of one ingest add: their SHA-256 by bundle path
    (tag files, listed in the tag manifest) and one warning a damaged extraction."""

    digests: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def add_members(
    kind: str,
    record: dict[str, Any],
    copy_path: Path,
    root: Path,
    siblings: frozenset[str],
    digests: Mapping[str, str],
    with_metadata: bool,
    extracted: ExtractionsWritten | None,
) -> None:
    """Write the members file of the extraction whose record is `record`
    under `root` (the bundle being written); `details.family` becomes
    "extraction" and `details.extraction` describes the members file."""
    from ..metadata import read_stream
    from .record import extraction_record

    written = extracted if extracted is not None else ExtractionsWritten()
    name = extraction_record(
        kind=kind,
        copy_path=copy_path,
        rel_path=str(record["path"]),
        record=record,
        root=root,
        digests=digests.get,
        present=siblings.__contains__,
        read_stream=read_stream if with_metadata else None,
        warnings=written.warnings,
    )
    written.digests[name] = record["details"]["extraction"]["members_sha256"]
