"""The calls ingest makes per copied file: is it an extraction (detect.py),
and if so its members file is written and its record says so (record.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from custody.extraction.detect import extraction_kind

__all__ = ["ExtractionsWritten", "add_members", "extraction_kind"]


@dataclass
class ExtractionsWritten:
    """What the members files of one ingest add: their SHA-256 by bundle path
    (tag files, listed in the tag manifest) and one warning a damaged extraction."""

    digests: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    manifest_rows: Callable[[Path], Iterator[Any]] | None = None
    """Reads an iOS backup's Manifest.db (the sqlite adapter, io/manifest_db.py),
    given by the operation: the domain never opens a database itself."""


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
    from custody.extraction.record import extraction_record
    from custody.metadata import read_stream

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
        manifest_rows=written.manifest_rows,
    )
    written.digests[name] = record["details"]["extraction"]["members_sha256"]
