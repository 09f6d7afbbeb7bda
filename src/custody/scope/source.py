"""The items of a bundle on disk (a folder or an archive), read from its
signed metadata and its extractions' members files."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from custody.base.errors import InputError
from custody.base.hashing import sha256_bytes
from custody.scope.items import Item, bundle_items

METADATA = "custody/metadata.json"
STATEMENT = "custody/statement.json"


@dataclass(frozen=True)
class BundleItems:
    """A bundle's identity and a way to walk its items (twice if need be)."""

    location: str
    bundle_id: str
    statement_sha256: str
    case: str | None
    exhibit: str | None
    metadata: bytes
    scan: Any

    def items(self) -> Iterator[Item]:
        from custody.metadata import iter_metadata_records

        def records() -> Iterator[dict[str, Any]]:
            return iter(iter_metadata_records(self.metadata))

        try:
            yield from bundle_items(records, self.scan.read_tag)
        except (ValueError, UnicodeDecodeError) as e:
            raise InputError(
                f"the bundle's metadata cannot be read ({e})", path=self.location
            ) from e


def read_bundle_items(bundle: Path) -> BundleItems:
    """The bundle's statement and signed metadata. Raises NotABundleError, or
    InputError when the metadata is not the one the statement signed."""
    from custody.bundle.format.statement import StatementError, parse_statement
    from custody.bundle.read.reader import scan_bundle

    scan = scan_bundle(bundle, hash_payload=False)
    raw = scan.tag_bytes.get(STATEMENT)
    data = scan.read_tag(METADATA)
    if raw is None or data is None:
        raise InputError("the bundle has no statement or no metadata", path=str(bundle))
    try:
        statement = parse_statement(raw)
    except StatementError as e:
        raise InputError(f"the bundle's statement cannot be read ({e})", path=str(bundle)) from e
    if statement.get("metadata_sha256") != sha256_bytes(data):
        raise InputError(
            "the bundle's metadata is not the one its statement signed: run custody verify",
            path=str(bundle),
        )
    return BundleItems(
        location=str(bundle),
        bundle_id=str(statement.get("bundle_id")),
        statement_sha256=sha256_bytes(raw),
        case=statement.get("case"),
        exhibit=statement.get("exhibit"),
        metadata=data,
        scan=scan,
    )
