"""Zips built byte by byte (PKWARE APPNOTE 4.3), so that a test can make any
field lie: hostile and damaged zips for the streaming reader, the UFDR
ingest and the bundle zip rules."""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass


@dataclass
class Member:
    name: bytes
    data: bytes
    method: int = 0  # 0 stored, 8 deflate
    flags: int = 0
    external: int = 0
    local_name: bytes | None = None  # a local header that lies about the name
    crc: int | None = None  # a CRC-32 that lies, in both headers
    offset: int | None = None  # the directory points here instead
    version: int = 20


def _body(m: Member) -> bytes:
    if m.method == 8:
        c = zlib.compressobj(6, zlib.DEFLATED, -15)
        return c.compress(m.data) + c.flush()
    return m.data


def local_header(m: Member, body: bytes, crc: int) -> bytes:
    name = m.local_name if m.local_name is not None else m.name
    return (
        struct.pack(
            "<4sHHHHHIIIHH",
            b"PK\x03\x04",
            m.version,
            m.flags,
            m.method,
            0,
            0x21,
            crc,
            len(body),
            len(m.data),
            len(name),
            0,
        )
        + name
    )


def forge(
    members: list[Member],
    *,
    order: list[int] | None = None,
    entries: int | None = None,
    cd_offset: int | None = None,
    zip64: bool = False,
    zip64_entries: int | None = None,
    prefix: bytes = b"",
) -> bytes:
    """A zip of `members`, its directory in `order`. `entries`, `cd_offset`
    override what the end record says; `zip64` adds a ZIP64 end record and
    locator (`zip64_entries` makes them disagree)."""
    out = bytearray(prefix)
    offsets, crcs, bodies = [], [], []
    for m in members:
        body = _body(m)
        crc = m.crc if m.crc is not None else zlib.crc32(m.data)
        offsets.append(len(out))
        crcs.append(crc)
        bodies.append(body)
        out += local_header(m, body, crc) + body
    start = len(out)
    for i in order if order is not None else range(len(members)):
        m = members[i]
        out += (
            struct.pack(
                "<4sHHHHHHIIIHHHHHII",
                b"PK\x01\x02",
                0x031E,
                m.version,
                m.flags,
                m.method,
                0,
                0x21,
                crcs[i],
                len(bodies[i]),
                len(m.data),
                len(m.name),
                0,
                0,
                0,
                0,
                m.external,
                m.offset if m.offset is not None else offsets[i],
            )
            + m.name
        )
    size = len(out) - start
    count = entries if entries is not None else len(members)
    at = cd_offset if cd_offset is not None else start
    if zip64:
        record_at = len(out)
        n64 = zip64_entries if zip64_entries is not None else count
        out += struct.pack("<4sQHHIIQQQQ", b"PK\x06\x06", 44, 45, 45, 0, 0, n64, n64, size, at)
        out += struct.pack("<4sIQI", b"PK\x06\x07", 0, record_at, 1)
    out += struct.pack(
        "<4sHHHHIIH", b"PK\x05\x06", 0, 0, min(count, 0xFFFF), min(count, 0xFFFF), size, at, 0
    )
    return bytes(out)


def overlapping() -> bytes:
    """Two members, the second's local header and data inside the first's
    data: a zip bomb by overlap, every header consistent."""
    inner = Member(b"b.txt", b"inner bytes\n")
    inner_bytes = local_header(inner, inner.data, zlib.crc32(inner.data)) + inner.data
    outer = Member(b"a.txt", inner_bytes + b"tail\n")
    inner.offset = 30 + len(outer.name)
    return forge([outer, inner])
