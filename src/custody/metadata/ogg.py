"""Ogg (Opus, Vorbis): codec, channels, sample rate and duration from the first
and last pages only."""

from __future__ import annotations

import struct
from typing import Any

from custody.metadata.guard import GuardedFile

TAIL_BYTES = 128 * 1024


def extract_ogg(fh: GuardedFile, size: int, record: dict[str, Any]) -> None:
    fh.seek(0)
    head = fh.read(4096)
    if not head.startswith(b"OggS") or len(head) < 28:
        record["errors"].append("not an Ogg stream")
        return
    segments = head[26]
    packet = head[27 + segments :]
    details = record["details"]
    if packet.startswith(b"OpusHead") and len(packet) >= 19:
        channels = packet[9]
        pre_skip, rate = struct.unpack_from("<HI", packet, 10)
        codec, clock = "opus", 48000
        details.update({"codecs": ["opus"], "channels": channels, "input_sample_rate": rate})
    elif packet.startswith(b"\x01vorbis") and len(packet) >= 16:
        channels = packet[11]
        rate = struct.unpack_from("<I", packet, 12)[0]
        pre_skip, codec, clock = 0, "vorbis", rate
        details.update({"codecs": ["vorbis"], "channels": channels, "sample_rate": rate})
    else:
        record["errors"].append("unknown Ogg codec")
        return
    fh.seek(max(0, size - TAIL_BYTES))
    tail = fh.read(TAIL_BYTES)
    last = tail.rfind(b"OggS")
    if last < 0 or last + 14 > len(tail) or not clock:
        record["errors"].append("no final Ogg page: the file is truncated")
        return
    granule = struct.unpack_from("<q", tail, last + 6)[0]
    if granule < 0:
        record["errors"].append(f"final {codec} page has no position")
        return
    record["duration_s"] = round(max(0, granule - pre_skip) / clock, 3)
