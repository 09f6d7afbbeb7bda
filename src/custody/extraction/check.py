"""The members files under custody/extractions/ against the signed metadata.

The tag manifest is not signed; what covers each members file is the SHA-256
its extraction's record carries in custody/metadata.json (signed by the
statement). A pure function of the scan, like the C2PA reports' check.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from custody.base.models import Problem
from custody.extraction.members import EXTRACTIONS_DIR, EXTRACTIONS_FIELD


def named_members_files(record: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(members file, SHA-256) named by one metadata record."""
    details = record.get("details")
    summary = details.get("extraction") if isinstance(details, dict) else None
    if isinstance(summary, dict) and isinstance(summary.get("members_file"), str):
        yield summary["members_file"], str(summary.get("members_sha256"))


def check_extractions(
    files: dict[str, Any],
    odd_paths: set[str],
    bag_info: dict[str, str],
    signed_metadata: Callable[[], bytes | None],
    problems: list[Problem],
) -> None:
    """Each members file named in the signed metadata is present with its
    SHA-256; none is there that the metadata does not name; their number is
    the one bag-info (signed) gives. `files` maps bundle paths to scanned
    files (with `.sha256`); `signed_metadata()` gives metadata.json's bytes
    when they are the ones the statement signed (else None)."""
    present = sorted(p for p in files if p.startswith(EXTRACTIONS_DIR))
    declared = bag_info.get(EXTRACTIONS_FIELD)
    if not present and declared is None:
        return  # no extraction: metadata.json is not read again
    metadata = signed_metadata()
    if metadata is None:
        return  # the statement checks report it; nothing signed to compare with
    from custody.metadata import iter_metadata_records

    expected: dict[str, str] = {}
    try:
        for record in iter_metadata_records(metadata):
            expected.update(named_members_files(record))
    except (UnicodeDecodeError, ValueError):
        return  # reported by the C2PA check, which reads the same records
    for path, digest in sorted(expected.items()):
        found = files.get(path)
        if found is None:
            if path not in odd_paths:
                problems.append(
                    Problem("missing", path, "members file named in the signed metadata is missing")
                )
        elif found.sha256 != digest:
            problems.append(
                Problem("changed", path, "members file differs from the one the metadata signed")
            )
    for path in present:
        if path not in expected:
            problems.append(Problem("extra", path, "members file not named in the signed metadata"))
    if (declared or "0") != str(len(expected)):
        problems.append(
            Problem(
                "statement_mismatch",
                "bag-info.txt",
                f"{EXTRACTIONS_FIELD} is {declared or 'absent'}, "
                f"the signed metadata names {len(expected)} members files",
            )
        )
