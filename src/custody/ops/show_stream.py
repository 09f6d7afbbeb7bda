"""`custody show` of a bundle of any size: the metadata records read one at a
time from custody/metadata.json and handed on as they are read, so that memory
stays flat whatever the file count (issue 26).

The file is read twice: once to hash it (whether it is the signed one is said
before the first record) and to check its layout, once to hand on its records.
A file whose layout is not the one custody writes is read whole, as before; a
file that changes between the two reads is an error.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from custody.base.errors import InputError, NotABundleError
from custody.bundle.format import layout
from custody.bundle.format.statement import StatementError, parse_statement
from custody.bundle.read.scan import read_capped
from custody.metadata.lines import metadata_records
from custody.ops.show import BundleMetadata, read_metadata


@dataclass(frozen=True)
class MetadataStream:
    """A bundle's metadata: what is known before the records, and the records,
    read again from the bundle each time `records()` is iterated."""

    bundle: str
    statement: dict[str, Any] | None
    matches_statement: bool
    _path: Path | None  # custody/metadata.json on this file system; None: `_whole` holds it
    _sha256: str
    _whole: BundleMetadata | None

    def head_json(self) -> dict[str, Any]:
        """The fields of `custody show --json` before "files", in their order."""
        st = self.statement or {}
        return {
            "bundle": self.bundle,
            "bundle_id": st.get("bundle_id"),
            "case": st.get("case"),
            "exhibit": st.get("exhibit"),
            "metadata_matches_statement": self.matches_statement,
        }

    def records(self) -> Iterator[dict[str, Any]]:
        """Each record, in the file's order. Raises InputError when the file
        changed since it was first read."""
        if self._whole is not None:
            yield from self._whole.files
            return
        assert self._path is not None
        digest = hashlib.sha256()
        try:
            with _open(self._path) as f:
                for record in metadata_records(_hashing(f, digest)):
                    if isinstance(record, dict):
                        yield record
        except (OSError, ValueError) as e:
            raise InputError(
                "custody/metadata.json changed while it was read", path=self.bundle
            ) from e
        if digest.hexdigest() != self._sha256:
            raise InputError("custody/metadata.json changed while it was read", path=self.bundle)


def _hashing(f: IO[bytes], digest: Any) -> Iterator[bytes]:
    for line in f:
        digest.update(line)
        yield line


def open_metadata(*, bundle: Path) -> MetadataStream:
    """The metadata of a bundle folder, ready to stream; a bundle archive's is
    read whole (read_metadata). Raises NotABundleError, or InputError when the
    metadata cannot be read."""
    if not bundle.is_dir() or bundle.is_symlink():
        return _from_whole(read_metadata(bundle=bundle))
    # Not scanned: a scan lists every file, and keeps the manifest (a line a file).
    # Only the two files show reads are opened, neither through a link.
    if not (bundle / layout.BAGIT_TXT).exists() and not (bundle / layout.STATEMENT).exists():
        raise NotABundleError("not a bundle (no bagit.txt)", path=str(bundle))
    if (bundle / "custody").is_symlink():
        raise InputError("the bundle has no custody/metadata.json", path=str(bundle))
    path = bundle / layout.METADATA
    if path.is_symlink() or not path.is_file():
        raise InputError("the bundle has no custody/metadata.json", path=str(bundle))
    digest = hashlib.sha256()
    try:
        with _open(path) as f:
            for _ in metadata_records(_hashing(f, digest)):
                pass
    except ValueError:  # another layout (or damaged): read whole, as before
        return _from_whole(read_metadata(bundle=bundle))
    except OSError as e:
        raise InputError("custody/metadata.json cannot be read", path=str(bundle)) from e
    statement = None
    matches = False
    raw = _read_regular(bundle / layout.STATEMENT)
    if raw is not None:
        try:
            statement = parse_statement(raw)
            matches = statement["metadata_sha256"] == digest.hexdigest()
        except StatementError:
            statement = None
    return MetadataStream(str(bundle), statement, matches, path, digest.hexdigest(), None)


def _from_whole(whole: BundleMetadata) -> MetadataStream:
    return MetadataStream(whole.bundle, whole.statement, whole.matches_statement, None, "", whole)


def _read_regular(path: Path) -> bytes | None:
    """A small tag file's bytes, or None when it is not a regular file."""
    try:
        with _open(path) as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                return None
            return read_capped(f)
    except OSError:
        return None


def _open(path: Path) -> IO[bytes]:
    """The file itself, never a link put in its place since the scan."""
    return os.fdopen(os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0)), "rb")


__all__ = ["MetadataStream", "open_metadata"]
