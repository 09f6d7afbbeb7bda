"""iOS backups (iTunes / Finder / idevicebackup2): files named by hash, their
device paths in Manifest.db.

Manifest.db is an SQLite database with one table

    Files(fileID TEXT PRIMARY KEY, domain TEXT, relativePath TEXT,
          flags INTEGER, file BLOB)

where fileID is the SHA-1 of "domain-relativePath", the file's bytes are at
<backup>/<fileID[:2]>/<fileID> (iOS 10 and later; <backup>/<fileID> before),
flags is 1 for a file, 2 for a directory, 4 for a symbolic link, and `file` is
an NSKeyedArchiver binary property list of an MBFile (Size, LastModified,
Birth, LastStatusChange, Mode, InodeNumber, UserID, GroupID, ProtectionClass,
RelativePath, Target). This module turns rows into member records: pure.
The rows come from custody.io.manifest_db, the sqlite adapter.
"""

from __future__ import annotations

import hashlib
import plistlib
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from custody.extraction.members import member_record, unix_time

MANIFEST_DB = "Manifest.db"
BACKUP_MARKERS = ("Info.plist", "Manifest.plist", "Status.plist")
_FILE_ID = re.compile(r"[0-9a-f]{40}")
_KINDS = {1: "file", 2: "directory", 4: "symlink"}
MAX_BLOB = 1 << 20

Row = tuple[Any, Any, Any, Any, Any]


def decode_mbfile(blob: bytes) -> dict[str, Any]:
    """The MBFile fields of a `file` blob (NSKeyedArchiver). Raises ValueError
    when the blob is not one."""
    if not isinstance(blob, bytes) or len(blob) > MAX_BLOB:
        raise ValueError("file record is not a property list of a sane size")
    try:
        archive = plistlib.loads(blob)
    except Exception as e:  # plistlib raises several types for hostile input
        raise ValueError(f"file record is not a property list ({type(e).__name__})") from e
    if not isinstance(archive, dict):
        raise ValueError("file record is not an archived object")
    objects = archive.get("$objects")
    top = archive.get("$top")
    if not isinstance(objects, list) or not isinstance(top, dict):
        raise ValueError("file record is not an NSKeyedArchiver archive")
    root = _deref(objects, top.get("root"))
    if not isinstance(root, dict):
        raise ValueError("file record has no MBFile object")
    out: dict[str, Any] = {}
    for key, value in root.items():
        if key.startswith("$"):
            continue
        value = _deref(objects, value)
        if isinstance(value, int | str | bytes) and not isinstance(value, bool):
            out[key] = value
    return out


def _deref(objects: list[Any], value: Any) -> Any:
    if isinstance(value, plistlib.UID):
        index = value.data
        return objects[index] if 0 <= index < len(objects) else None
    return value


def stored_name(file_id: str, present: Callable[[str], bool]) -> str | None:
    """Where the bytes of `file_id` are, relative to the backup: the layout
    of iOS 10 and later (xx/fileID) or the older flat one; None when absent."""
    for candidate in (f"{file_id[:2]}/{file_id}", file_id):
        if present(candidate):
            return candidate
    return None


def read_rows(rows: Iterable[Row], present: Callable[[str], bool]) -> Iterator[dict[str, Any]]:
    """Member records for the rows of Files, in the order given. `present`
    says whether a path relative to the backup is a file in it."""
    for file_id, domain, relative, flags, blob in rows:
        yield row_member(file_id, domain, relative, flags, blob, present)


def row_member(
    file_id: Any,
    domain: Any,
    relative: Any,
    flags: Any,
    blob: Any,
    present: Callable[[str], bool],
) -> dict[str, Any]:
    """One row of Files as a member record."""
    domain_text = str(domain) if domain is not None else ""
    relative_text = str(relative) if relative is not None else ""
    kind = _KINDS.get(flags, "other") if isinstance(flags, int) else "other"
    member = member_record(
        device_path=relative_text, stored=None, size=None, kind=kind, category=domain_text
    )
    member["domain"] = domain_text
    member["file_id"] = str(file_id)
    errors: list[str] = member["errors"]
    if not isinstance(file_id, str) or not _FILE_ID.fullmatch(file_id):
        errors.append("fileID is not 40 hexadecimal digits: its file is not looked up")
    else:
        expected = hashlib.sha1(f"{domain_text}-{relative_text}".encode("utf-8", "replace"))
        if expected.hexdigest() != file_id:
            errors.append("fileID is not the SHA-1 of domain-relativePath")
        if kind == "file":
            member["stored"] = stored_name(file_id, present)
            if member["stored"] is None:
                errors.append("named in Manifest.db but not in the backup")
    if blob is not None:
        try:
            fields = decode_mbfile(blob)
        except ValueError as e:
            errors.append(str(e))
        else:
            _apply(member, fields)
    return member


def _apply(member: dict[str, Any], fields: dict[str, Any]) -> None:
    size = fields.get("Size")
    if isinstance(size, int) and size >= 0 and member["kind"] == "file":
        member["size"] = size
    member["times"] = {
        "modified": unix_time(fields.get("LastModified")),
        "created": unix_time(fields.get("Birth")),
        "changed": unix_time(fields.get("LastStatusChange")),
    }
    mode = fields.get("Mode")
    if isinstance(mode, int):
        member["mode"] = f"{mode & 0o7777:04o}"
    if isinstance(fields.get("ProtectionClass"), int):
        member["protection_class"] = fields["ProtectionClass"]
    target = fields.get("Target")
    if member["kind"] == "symlink" and isinstance(target, str):
        member["link_target"] = target[:4096]
