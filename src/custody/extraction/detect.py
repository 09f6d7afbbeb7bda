"""Which files of a source are extractions, decided from the name, the
sniffed type and a few bytes (a ZIP's central directory for report.xml)."""

from __future__ import annotations

from pathlib import Path

from custody.base import zipdir
from custody.extraction.ios import BACKUP_MARKERS, MANIFEST_DB
from custody.extraction.tar import compression_of, is_tar_name, looks_like_tar
from custody.extraction.ufdr import REPORT_XML

UFDR = "ufdr"
IOS_BACKUP = "ios-backup"
ANDROID_TAR = "android-tar"


def extraction_kind(
    rel: str, mime: str | None, copy_path: Path, siblings: frozenset[str]
) -> str | None:
    """'ufdr', 'ios-backup' (for a backup's Manifest.db), 'android-tar' or None."""
    name = rel.rsplit("/", 1)[-1]
    if mime == "application/zip":
        if name.lower().endswith(".ufdr"):
            return UFDR
        return UFDR if _holds_report(copy_path) else None
    if name == MANIFEST_DB:
        folder = rel[: -len(name)]
        if any(f"{folder}{marker}" in siblings for marker in BACKUP_MARKERS):
            return IOS_BACKUP
        return None
    if is_tar_name(name):
        try:
            with open(copy_path, "rb") as fh:
                head = fh.read(512)
        except OSError:
            return None
        if compression_of(head) is not None or looks_like_tar(head):
            return ANDROID_TAR
    return None


def _holds_report(copy_path: Path) -> bool:
    """Does the zip's central directory name report.xml? Walked record by
    record (a UFDR can list a million members), stopping at the first match."""
    wanted = REPORT_XML.encode()
    try:
        with open(copy_path, "rb") as fh:
            directory = zipdir.find_directory(fh)
            return any(r.name == wanted for r in zipdir.iter_central(fh, directory))
    except (zipdir.ZipDamaged, OSError):
        return False
