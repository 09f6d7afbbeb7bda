"""ZIP archives kept as handed over: every member recorded, read in place.

A witness's "WhatsApp Chat - Olena K.zip" is the evidence itself: it is
copied byte for byte like any file, and its metadata record lists each member
(name, sizes, CRC, SHA-256, sniffed type, the same metadata as a loose file,
C2PA). Nothing is written anywhere. The limits and name checks are the ones
custody applies to a bundle archive (bundle/read/): a hostile member is
recorded with the reason, never followed.
"""

from __future__ import annotations

import hashlib
import io
import stat
import threading
import zipfile
import zlib
from collections.abc import Callable
from typing import IO, Any

from custody.base.archive_names import (
    ARCHIVE_ERRORS,
    BOMB_MIN_BYTES,
    BOMB_RATIO,
    MAX_NAME_BYTES,
    clean_member_name,
    zip_member_name,
)
from custody.base.fsutil import unsafe_path_reason
from custody.metadata.record import empty_record

# Members listed in one record (a bigger archive is still kept whole and
# hashed; the record says how many were left out).
MAX_LISTED_MEMBERS = 100_000
# A member up to this size is read into memory once and parsed from there;
# a larger one is hashed as it streams and its metadata read from the stream.
IN_MEMORY_MEMBER = 128 * 1024 * 1024
# All members together: past this, the rest are listed but not read.
MAX_TOTAL_READ = 64 * 1024 * 1024 * 1024

MemberReader = Callable[[IO[bytes], str, int, frozenset[str], dict[str, Any]], None]


def member_names(zf: zipfile.ZipFile) -> list[tuple[str, zipfile.ZipInfo]]:
    return [(zip_member_name(info), info) for info in zf.infolist()]


def rejection(name: str, info: zipfile.ZipInfo) -> str | None:
    """Why a member is not read (None: it is read)."""
    if len(name.encode("utf-8", "surrogateescape")) > MAX_NAME_BYTES:
        return "member name is too long"
    clean = clean_member_name(name)
    reason = unsafe_path_reason(clean)
    if reason is not None:
        return f"unsafe name: {reason}"
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        return "symbolic link: never followed"
    if stat.S_IFMT(mode) not in (0, stat.S_IFREG):
        return "special file: not read"
    if info.flag_bits & 0x1:
        return "encrypted member: not read"
    if info.file_size > BOMB_MIN_BYTES and info.file_size > BOMB_RATIO * max(1, info.compress_size):
        return (
            f"compressed {info.compress_size} bytes claim to hold {info.file_size}: "
            "a zip bomb, not read"
        )
    return None


def _hash_stream(stream: IO[bytes]) -> tuple[str, int]:
    h = hashlib.sha256()
    n = 0
    while piece := stream.read(1 << 20):
        h.update(piece)
        n += len(piece)
    return h.hexdigest(), n


def extract_zip(
    raw: IO[bytes],
    record: dict[str, Any],
    read_member: MemberReader,
) -> None:
    """Fill `record["details"]["archive"]` with every member of a ZIP archive.
    `read_member(stream, name, size, siblings, member_record)` fills a member's
    metadata the way a loose file's is filled. Raises on an archive that cannot
    be opened at all (the caller records it)."""
    raw.seek(0)
    try:
        zf = zipfile.ZipFile(raw)
    except ARCHIVE_ERRORS as e:
        raise ValueError(f"damaged zip archive ({e})") from e
    archive: dict[str, Any] = {"format": "zip", "members": [], "rejected": []}
    record["details"]["family"] = "archive"
    record["details"]["archive"] = archive
    with zf:
        entries = member_names(zf)
        archive["member_count"] = len(entries)
        if len(entries) > MAX_LISTED_MEMBERS:
            archive["not_listed"] = len(entries) - MAX_LISTED_MEMBERS
            entries = entries[:MAX_LISTED_MEMBERS]
        seen: set[str] = set()
        accepted: list[tuple[str, zipfile.ZipInfo]] = []
        for name, info in entries:
            if info.is_dir():
                continue
            reason = rejection(name, info)
            clean = clean_member_name(name)
            if reason is None and clean in seen:
                reason = "the archive holds this name twice: only the first is read"
            if reason is not None:
                archive["rejected"].append({"name": name, "reason": reason, "size": info.file_size})
                continue
            seen.add(clean)
            accepted.append((clean, info))
        siblings = frozenset(seen)
        budget = MAX_TOTAL_READ
        for name, info in accepted:
            member = _member_record(name, info)
            archive["members"].append(member)
            if info.file_size > budget:
                member["errors"].append("not read: the archive's read budget is spent")
                continue
            budget -= info.file_size
            try:
                _read_one(zf, info, name, member, siblings, read_member)
            except ARCHIVE_ERRORS as e:  # BadZipFile among them (a CRC mismatch)
                member["errors"].append(f"member cannot be read ({_short(e)})")


def _member_record(name: str, info: zipfile.ZipInfo) -> dict[str, Any]:
    record = empty_record(name, None, info.file_size)
    record.update(
        compressed_size=info.compress_size,
        crc32=f"{info.CRC:08x}",
        compression=info.compress_type,
        modified="{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}".format(*info.date_time),
    )
    return record


def _read_one(
    zf: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    name: str,
    member: dict[str, Any],
    siblings: frozenset[str],
    read_member: MemberReader,
) -> None:
    # zipfile checks each member's CRC-32 as the last byte is read: a mismatch
    # raises BadZipFile, recorded as the member's error.
    if info.file_size <= IN_MEMORY_MEMBER:
        with zf.open(info) as stream:
            data = stream.read(info.file_size + 1)
            stream.read(1)
        if len(data) != info.file_size:
            member["errors"].append(
                f"member holds {len(data)} bytes, its header says {info.file_size}"
            )
        member["sha256"] = hashlib.sha256(data).hexdigest()
        read_member(io.BytesIO(data), name, len(data), siblings, member)
        return
    with zf.open(info) as stream:
        digest, count = _hash_stream(stream)
    member["sha256"] = digest
    if count != info.file_size:
        member["errors"].append(f"member holds {count} bytes, its header says {info.file_size}")
    with zf.open(info) as stream:  # seekable: parsers read only the parts they need
        read_member(stream, name, count, siblings, member)


def _short(e: BaseException) -> str:
    if isinstance(e, zlib.error):
        return f"corrupt compressed data: {e}"
    return " ".join(str(e).split())[:200] or type(e).__name__


class _Nesting(threading.local):
    depth = 0


# A ZIP inside a handed-over ZIP is listed; one more level down is not opened
# (nested archives multiply the work: 42.zip).
MAX_ARCHIVE_DEPTH = 2
_NESTING = _Nesting()


def read_archive_record(
    raw: Any,
    rel_path: str,
    record: dict[str, Any],
    sidecars: dict[str, bytes] | None,
    read_stream: Callable[..., None],
) -> None:
    """Fill the record of a ZIP found among the evidence: every member read like a
    loose file by `read_stream` (the extractor that found this ZIP, passed in so
    that this module does not import it back), nested archives to
    MAX_ARCHIVE_DEPTH, chat attachments resolved."""
    if _NESTING.depth >= MAX_ARCHIVE_DEPTH:
        record["errors"].append(
            f"archive nested {MAX_ARCHIVE_DEPTH} deep: kept and hashed, not opened"
        )
        return
    _NESTING.depth += 1
    try:
        _read_archive(raw, rel_path, record, sidecars, read_stream)
    finally:
        _NESTING.depth -= 1


def _read_archive(
    raw: Any,
    rel_path: str,
    record: dict[str, Any],
    sidecars: dict[str, bytes] | None,
    read_stream: Callable[..., None],
) -> None:
    prefixed: dict[frozenset[str], frozenset[str]] = {}

    def _prefixed(siblings: frozenset[str]) -> frozenset[str]:
        # Computed once per archive: WhatsApp looks attachments up by bundle path.
        if siblings not in prefixed:
            prefixed[siblings] = frozenset(f"{rel_path}/{n}" for n in siblings)
        return prefixed[siblings]

    def read_member(
        stream: Any, name: str, size: int, siblings: frozenset[str], member: dict[str, Any]
    ) -> None:
        read_stream(
            stream,
            rel_path=f"{rel_path}/{name}",
            size=size,
            siblings=_prefixed(siblings),
            record=member,
            sidecars=sidecars,
        )
        member["path"] = name  # the member's own name; the C2PA report is under the archive

    extract_zip(raw, record, read_member)
    from custody.metadata.chats import resolve_hashes

    members = record["details"]["archive"]["members"]
    digests = {f"{rel_path}/{m['path']}": m["sha256"] for m in members}
    for member in members:
        resolve_hashes(member, digests.get)
