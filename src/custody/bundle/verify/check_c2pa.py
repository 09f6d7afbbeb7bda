"""The C2PA reports kept under custody/c2pa/ against the signed metadata.

The tag manifest is not signed; what covers each report is the SHA-256 its
file's record carries in custody/metadata.json (signed by the statement), and
their number in bag-info (signed too). A pure function of the scan.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from custody.base.hashing import sha256_bytes
from custody.base.models import Problem
from custody.bundle.format import layout
from custody.bundle.read.scan import BundleScan


def named_reports(record: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(report path, SHA-256) of a record and of its archive members."""
    c2pa = record.get("c2pa")
    if isinstance(c2pa, dict) and isinstance(c2pa.get("report"), str):
        yield c2pa["report"], str(c2pa.get("report_sha256"))
    details = record.get("details")
    archive = details.get("archive") if isinstance(details, dict) else None
    members = archive.get("members") if isinstance(archive, dict) else None
    for member in members if isinstance(members, list) else []:
        if isinstance(member, dict):
            yield from named_reports(member)


def check_c2pa(
    scan: BundleScan,
    bag_info: dict[str, str],
    statement: dict[str, Any] | None,
    problems: list[Problem],
) -> None:
    present = sorted(p for p in scan.files if p.startswith(layout.C2PA_DIR))
    declared = bag_info.get(layout.C2PA_REPORTS_FIELD)
    if not present and declared is None:
        return
    data = scan.read_tag(layout.METADATA)
    if data is None or statement is None or sha256_bytes(data) != statement["metadata_sha256"]:
        return  # reported by the statement checks; nothing signed to compare with
    from custody.metadata import iter_metadata_records  # only bundles with reports read it

    expected: dict[str, str] = {}
    try:
        for record in iter_metadata_records(data):
            expected.update(named_reports(record))
    except (UnicodeDecodeError, ValueError):
        problems.append(Problem("bad_metadata", layout.METADATA, "cannot be read as records"))
        return
    for path, digest in sorted(expected.items()):
        found = scan.files.get(path)
        if found is None:
            if path not in scan.odd_paths:
                problems.append(
                    Problem("missing", path, "C2PA report named in the signed metadata is missing")
                )
        elif found.sha256 != digest:
            problems.append(
                Problem("changed", path, "C2PA report differs from the one the metadata signed")
            )
    for path in present:
        if path not in expected:
            problems.append(Problem("extra", path, "C2PA report not named in the signed metadata"))
    if (declared or "0") != str(len(expected)):
        problems.append(
            Problem(
                "statement_mismatch",
                layout.BAG_INFO,
                f"{layout.C2PA_REPORTS_FIELD} is {declared or 'absent'}, "
                f"the signed metadata names {len(expected)} reports",
            )
        )
