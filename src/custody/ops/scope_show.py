"""`custody show --scope`: the metadata records limited to a scope's items."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from custody.base.errors import InputError
from custody.ops.show import BundleMetadata
from custody.scope.check import read_scope_files, selected_pairs
from custody.scope.record import ScopeRecordError, parse_scope

PAYLOAD = "data/"


def limit_to_scope(result: BundleMetadata, *, record: Path) -> BundleMetadata:
    """Only the records of selected items: a loose file when selected, a ZIP
    with only its selected members listed, an extraction when any of its
    members is selected (the members themselves are in its members file).
    Raises InputError when the record is unreadable or about another bundle.
    This shows; `custody verify --scope` proves."""
    files = read_scope_files(record)
    try:
        scope = parse_scope(files.scope or b"")
    except ScopeRecordError as e:
        raise InputError(str(e), path=str(record)) from e
    bundle_id = (result.statement or {}).get("bundle_id")
    if scope["bundle"].get("bundle_id") != bundle_id:
        raise InputError("the scope record is about another bundle", path=str(record))
    pairs = selected_pairs(files)
    containers = {bundle_path for bundle_path, member in pairs if member}
    kept: list[dict[str, Any]] = []
    for r in result.files:
        bundle_path = PAYLOAD + str(r.get("path"))
        if (bundle_path, "") in pairs:
            kept.append(r)
        elif bundle_path in containers:
            kept.append(_members_only(r, bundle_path, pairs))
    return replace(result, files=tuple(kept))


def _members_only(
    record: dict[str, Any], bundle_path: str, pairs: set[tuple[str, str]]
) -> dict[str, Any]:
    details = record.get("details")
    if not isinstance(details, dict):
        return record
    archive = details.get("archive")
    if not isinstance(archive, dict) or not isinstance(archive.get("members"), list):
        return record
    members = [
        m
        for m in archive["members"]
        if isinstance(m, dict) and (bundle_path, m.get("path")) in pairs
    ]
    return {**record, "details": {**details, "archive": {**archive, "members": members}}}
