"""`custody show --recheck`: validate the C2PA manifests of a bundle again,
today, with the trust list installed today, and say what changed.

A manifest valid at ingest may be trusted now (its signer joined the trust
list) or untrusted (removed). The recorded state is never rewritten: the
recheck is a separate, unsigned report. Each file is read from the bundle and
its SHA-256 compared with the record first, so a changed file is never
validated in the recorded file's name.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from custody.bundle.format import layout
from custody.metadata.c2pa import C2PA_TYPES, TrustList, read_c2pa, sdk_version, shipped_trust_list
from custody.ops.show import BundleMetadata, read_metadata


@dataclass(frozen=True)
class C2paRecheck:
    """Recorded and current C2PA state of every file that carries a manifest."""

    bundle: str
    sdk: str | None
    trust_list: dict[str, str]
    files: tuple[dict[str, Any], ...]

    @property
    def changed(self) -> int:
        return sum(1 for f in self.files if f["changed"])

    def to_json(self) -> dict[str, Any]:
        return {
            "sdk": self.sdk,
            "trust_list": self.trust_list,
            "checked": len(self.files),
            "changed": self.changed,
            "files": list(self.files),
        }


def _records(metadata: BundleMetadata) -> Iterator[tuple[str, str | None, dict[str, Any]]]:
    """(path, archive path or None, record) of every file and archive member."""
    for record in metadata.files:
        yield str(record.get("path")), None, record
        archive = (record.get("details") or {}).get("archive") or {}
        for member in archive.get("members") or []:
            if isinstance(member, dict):
                yield str(member.get("path")), str(record.get("path")), member


def _open_payload(bundle: Path, rel: str) -> IO[bytes]:
    if bundle.is_dir():
        return open(bundle / layout.PAYLOAD_DIR / rel, "rb")
    from custody.bundle.read.reader import scan_bundle
    from custody.bundle.read.scan import read_member

    scan = scan_bundle(bundle, hash_payload=False, tag_files_only=True)
    data = read_member(bundle, f"{scan.root_prefix}{layout.PAYLOAD_DIR}/{rel}")
    if data is None:
        raise OSError(f"{rel} cannot be read from the archive")
    return io.BytesIO(data)


def _read(bundle: Path, path: str, archive: str | None) -> bytes:
    if archive is None:
        with _open_payload(bundle, path) as fh:
            return fh.read()
    with _open_payload(bundle, archive) as fh, zipfile.ZipFile(fh) as zf:
        from custody.metadata.archive import member_names

        for name, info in member_names(zf):
            if name == path:
                with zf.open(info) as member:
                    return member.read()
    raise OSError(f"{archive} no longer holds {path}")


def recheck_c2pa(*, bundle: Path, trust: TrustList | None = None) -> C2paRecheck:
    """Validate again every file whose record has a C2PA value (or could have:
    a type the SDK reads, recorded as not checked). Raises what read_metadata
    raises; a file that cannot be read or has changed is reported per file."""
    trust = trust or shipped_trust_list()
    metadata = read_metadata(bundle=bundle)
    rows = []
    for path, archive, record in _records(metadata):
        recorded = record.get("c2pa")
        if recorded is None or record.get("mime") not in C2PA_TYPES:
            continue
        shown = f"{archive}/{path}" if archive else path
        row: dict[str, Any] = {
            "path": shown,
            "recorded_state": recorded.get("state"),
            "recorded_failures": recorded.get("failures", []),
            "recorded_trust_list": (recorded.get("trust_list") or {}).get("date"),
            "state": None,
            "failures": [],
            "changed": False,
            "error": None,
        }
        try:
            data = _read(bundle, path, archive)
        except (OSError, zipfile.BadZipFile, ValueError) as e:
            row["error"] = f"cannot be read: {e}"
            rows.append(row)
            continue
        if hashlib.sha256(data).hexdigest() != record.get("sha256"):
            row["error"] = "the file differs from the one recorded at ingest: run custody verify"
            rows.append(row)
            continue
        now = read_c2pa(io.BytesIO(data), str(record["mime"]), len(data), trust).summary or {}
        row["state"] = now.get("state")
        row["failures"] = now.get("failures", [])
        row["changed"] = row["state"] != row["recorded_state"] or sorted(row["failures"]) != sorted(
            row["recorded_failures"]
        )
        rows.append(row)
    return C2paRecheck(str(bundle), sdk_version(), trust.describe(), tuple(rows))
