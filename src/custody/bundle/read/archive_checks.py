"""One file, one reading: a bundle archive is accepted only when every common
extractor (GNU tar, bsdtar, Info-ZIP unzip, 7-Zip, Python's zipfile, Windows
Explorer) would read the same members with the same bytes from it.

Readers disagree at the edges of the formats: zipfile finds a zip by its end
record and accepts anything before it, tar stops at its end blocks and ignores
what follows, unzip drops a Unicode Path field whose CRC does not match, tar
tools treat pax and GNU headers differently. A file that can be read two ways
can show a court a different bundle from the one custody verified, so such a
file is refused, before anything in it is hashed, with one line saying why
(NotABundleError: exit 2, never VERIFIED). docs/format.md lists the rules;
archive_zip_check.py and archive_tar_check.py apply them. The verifier page
(verifier/src/zip.js, readings.js) applies the zip rules with the same messages.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from custody.base.errors import NotABundleError
from custody.bundle.read.archive_common import (
    TAR_BLOCK,
    ZIP_LOCAL_MAGIC,
    ArchiveRefused,
    compression_of,
    refuse,
    tar_header_at,
)
from custody.bundle.read.archive_tar_check import check_tar
from custody.bundle.read.archive_zip_check import check_zip

__all__ = ["ArchiveRefused", "check_archive"]


def check_archive(path: Path) -> str | None:
    """Which archive `path` is, "zip", "tar" or "tar cut short" (the scan
    reports the damage), once every rule holds; None when it looks like
    neither. Raises ArchiveRefused when extractors would read it differently,
    NotABundleError for a zip too damaged to list, and OSError when it cannot
    be read."""
    with open(path, "rb") as fh:
        head = fh.read(TAR_BLOCK)
    try:
        zip_end = zipfile.is_zipfile(path)
    except zipfile.BadZipFile:
        zip_end = True  # an end record zipfile cannot follow: check_zip says why
    except (OSError, ValueError) as e:
        raise NotABundleError(f"damaged zip archive ({e})", path=str(path)) from e
    tar_start = tar_header_at(head)
    compressed = compression_of(head)
    if zip_end and (tar_start or compressed is not None):
        what = "a tar" if tar_start else f"{compressed} data"
        raise refuse(
            path,
            f"it is both {what} and a zip archive, and extractors would show different bundles",
        )
    if zip_end:
        check_zip(path)
        return "zip"
    if tar_start or compressed is not None:
        return check_tar(path, compressed)
    if head.startswith(ZIP_LOCAL_MAGIC):
        # Zip members but no end record: a zip cut short (a copy stopped early).
        raise NotABundleError("damaged or truncated zip (no central directory)", path=str(path))
    return None
