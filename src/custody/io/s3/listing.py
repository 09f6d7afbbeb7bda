"""custody store list: the bundles stored under a prefix."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from custody.bundle.format import layout
from custody.io.s3.client import S3Client, call, connect, error_code, s3_errors, translate
from custody.io.s3.location import S3Location
from custody.io.s3.scan import _iso


@dataclass(frozen=True)
class StoredBundleInfo:
    """One bundle folder in the store, as its signed statement describes it."""

    location: str
    name: str
    case: str | None
    exhibit: str | None
    bundle_id: str | None
    created: str | None
    retain_until: str | None
    retention_mode: str | None
    complete: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "location": self.location,
            "name": self.name,
            "case": self.case,
            "exhibit": self.exhibit,
            "bundle_id": self.bundle_id,
            "created": self.created,
            "retain_until": self.retain_until,
            "retention_mode": self.retention_mode,
            "complete": self.complete,
        }


@dataclass(frozen=True)
class StoreListing:
    location: str
    bundles: tuple[StoredBundleInfo, ...]

    def to_json(self) -> dict[str, Any]:
        return {"location": self.location, "bundles": [b.to_json() for b in self.bundles]}


def _describe(client: S3Client, location: S3Location) -> StoredBundleInfo | None:
    """A bundle's statement fields and lock; None when the folder holds no bundle."""
    key = location.key_prefix + layout.STATEMENT
    try:
        response = client.get_object(Bucket=location.bucket, Key=key)
        data = response["Body"].read(1 << 20)
    except Exception as e:
        if error_code(e) in ("NoSuchKey", "404"):
            return None
        raise translate(e, location) from e
    try:
        statement = json.loads(data)
        if not isinstance(statement, dict):
            statement = {}
    except ValueError:
        statement = {}
    try:
        client.head_object(Bucket=location.bucket, Key=location.key_prefix + layout.TAG_MANIFEST)
        complete = True
    except Exception as e:
        if error_code(e) not in ("NoSuchKey", "404"):
            raise translate(e, location) from e
        complete = False

    def text(name: str) -> str | None:
        value = statement.get(name)
        return str(value) if value is not None else None

    return StoredBundleInfo(
        location=str(location),
        name=location.name,
        case=text("case"),
        exhibit=text("exhibit"),
        bundle_id=text("bundle_id"),
        created=text("created"),
        retain_until=_iso(response.get("ObjectLockRetainUntilDate")),
        retention_mode=response.get("ObjectLockMode"),
        complete=complete,
    )


def list_bundles(*, where: str, endpoint_url: str | None = None) -> StoreListing:
    """The bundles directly under s3://bucket/prefix (each folder holding a
    custody statement). Raises StoreError, StoreUnreachable."""
    location = S3Location.parse(where)
    client = connect(endpoint_url=endpoint_url)
    call(location, client.head_bucket, Bucket=location.bucket)
    found = []
    with s3_errors(location):
        paginator = client.get_paginator("list_objects_v2")
        for page in paginator.paginate(
            Bucket=location.bucket, Prefix=location.key_prefix, Delimiter="/"
        ):
            for common in page.get("CommonPrefixes", []):
                name = common["Prefix"][len(location.key_prefix) :].rstrip("/")
                if name:
                    found.append(name)
    bundles = []
    for name in sorted(found):
        info = _describe(client, location.child(name))
        if info is not None:
            bundles.append(info)
    return StoreListing(str(location), tuple(bundles))
