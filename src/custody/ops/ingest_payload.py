"""What ingest does with its copies besides signing them: the working copies of
--expand merged into the spilled listing, and the perceptual analysis of the
images and videos. Used by ops/writer.py."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from custody.base.models import CopiedFile
from custody.bundle.write.listing import SpilledListing, spill_listing
from custody.bundle.write.records import expand_payload
from custody.bundle.write.spill import SortedIndex
from custody.io.manifest_db import manifest_rows

if TYPE_CHECKING:
    from custody.similar.payload import PayloadAnalysis


def expand_spilled(
    listing: SpilledListing, copied: SortedIndex, data_dir: Path
) -> tuple[SpilledListing, SortedIndex, dict[str, dict[str, Any]]]:
    """--expand's working copies, merged into the listing and the copies. The
    archives' members are listed in memory (bundle/write/expand.py)."""
    whole = listing.whole()
    copies = [CopiedFile(rel, *value) for rel, value in copied.items_in_order()]
    whole, copies, origin = expand_payload(whole, copies, data_dir, manifest_rows=manifest_rows)
    if not origin:
        return listing, copied, origin
    where = data_dir.parent
    expanded = spill_listing(where, where, whole)
    index = SortedIndex(where)
    for c in copies:
        index.add(c.path, (c.size, c.sha256, c.mime))
    listing.close()
    copied.close()
    return expanded, index.seal(), origin


def analyse_media(
    copied: SortedIndex, data_dir: Path, enabled: bool, workers: int | None
) -> PayloadAnalysis:
    from custody.similar.analyse import kind_of
    from custody.similar.payload import PayloadFile, analyse_payload

    # Only the images and videos are listed (in memory: their analyses are).
    files = [
        PayloadFile(rel, sha256, mime)
        for rel, (_, sha256, mime) in copied.items_in_order()
        if kind_of(mime, rel) is not None
    ]
    return analyse_payload(files, data_dir, enabled=enabled, workers=workers)
