"""Reading the packed layout from the store (bundle/format/pack.py), for
verify in place and pull: the index is streamed line by line, and each
segment is read once, streamed, as a tar archive, on a few threads; memory
holds no segment and no whole index.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from custody.base.models import Problem
from custody.base.workers import Cancelled, run_parallel
from custody.bundle.format import pack, pack_read
from custody.io.s3.client import S3Client, error_code, s3_errors, translate
from custody.io.s3.location import S3Location


@dataclass(frozen=True)
class Listed:
    """An object of the packed layout as the versioned listing shows it."""

    key: str
    version: str | None
    size: int


@dataclass
class PackedRead:
    """What reading the packed layout found: problems with the layout, and the
    GET responses of its objects (for their lock state)."""

    problems: list[Problem] = field(default_factory=list)
    responses: list[tuple[str, int, dict[str, Any]]] = field(default_factory=list)


def find_pack_objects(
    listed: dict[str, Listed],
) -> tuple[Listed | None, dict[int, Listed], list[str]]:
    """(the index, segments by number, other objects under custody-pack/)
    from the listing, keyed by path below the bundle's prefix."""
    index = listed.get(pack.INDEX)
    segments: dict[int, Listed] = {}
    strays: list[str] = []
    for rel, obj in listed.items():
        if rel == pack.INDEX:
            continue
        name = rel[len(pack.PACK_DIR) :]
        number = None
        if name.startswith("segment-") and name.endswith(".tar") and name[8:-4].isdigit():
            number = int(name[8:-4])
        if number is not None and number > 0 and pack.segment_key(number) == rel:
            segments[number] = obj
        else:
            strays.append(rel)
    return index, segments, sorted(strays)


def _get(client: S3Client, location: S3Location, obj: Listed) -> dict[str, Any] | None:
    args: dict[str, Any] = {"Bucket": location.bucket, "Key": location.key_prefix + obj.key}
    if obj.version is not None:
        args["VersionId"] = obj.version
    try:
        response: dict[str, Any] = client.get_object(**args)
        return response
    except Exception as e:
        code = error_code(e)
        if code in ("NoSuchKey", "NoSuchVersion", "AccessDenied", "InvalidObjectState"):
            return None
        raise translate(e, f"{location}/{obj.key}") from e


def read_packed(
    *,
    client: S3Client,
    location: S3Location,
    listed: dict[str, Listed],
    on_member: Callable[[pack_read.MemberRead], None],
    sink: pack_read.Sink | None = None,
    on_bytes: Callable[[int], None] | None = None,
    on_index: Callable[[int], None] | None = None,
    workers: int = 8,
) -> PackedRead:
    """Read every segment once against the index. `listed`: the objects under
    custody-pack/, by path below the bundle. `on_member` is called (from
    worker threads, one at a time) for every member read; `on_index` with the
    number of files the index lists. Raises StoreError, StoreUnreachable."""
    out = PackedRead()
    index_obj, segments, strays = find_pack_objects(listed)
    for rel in strays:
        out.problems.append(Problem(pack.PROBLEM, rel, "not an object of the packed layout"))
    lock = threading.Lock()

    def member(m: pack_read.MemberRead) -> None:
        with lock:
            on_member(m)

    reader: pack_read.IndexReader | None = None
    index_body: Any = None
    if index_obj is None:
        out.problems.append(
            Problem(pack.PROBLEM, pack.INDEX, "missing: the segments are read without an index")
        )
    else:
        response = _get(client, location, index_obj)
        if response is None:
            out.problems.append(Problem(pack.PROBLEM, pack.INDEX, "cannot be read"))
        else:
            out.responses.append((pack.INDEX, index_obj.size, response))
            index_body = response["Body"]
            reader = pack_read.IndexReader(pack_read.split_lines(index_body.read))

    def work() -> Iterator[tuple[int, list[pack.IndexMember] | None]]:
        done: set[int] = set()
        if reader is not None:
            with s3_errors(f"{location}/{pack.INDEX}"):
                usable = reader.read_header()
                if usable:
                    if on_index is not None:
                        on_index(sum(s.files for s in reader.segments.values()))
                    for number, group in reader.member_groups():
                        done.add(number)
                        if number not in segments:
                            out.problems.append(
                                Problem(
                                    pack.PROBLEM,
                                    pack.segment_key(number),
                                    "listed in the index, not in the store",
                                )
                            )
                            continue
                        yield number, group
        for number in sorted(set(segments) - done):
            if reader is not None and number not in reader.segments:
                out.problems.append(
                    Problem(
                        pack.PROBLEM, pack.segment_key(number), "in the store, not in the index"
                    )
                )
            yield number, None

    def read_one(
        item: tuple[int, list[pack.IndexMember] | None], stop: threading.Event
    ) -> pack_read.SegmentRead | None:
        number, group = item
        obj = segments[number]
        response = _get(client, location, obj)
        if response is None:
            with lock:
                out.problems.append(Problem(pack.PROBLEM, obj.key, "cannot be read"))
            return None
        with lock:
            out.responses.append((obj.key, obj.size, response))
        body = response["Body"]
        record = reader.segments.get(number) if reader is not None else None
        try:
            with s3_errors(f"{location}/{obj.key}"):
                try:
                    return pack_read.read_segment(
                        number=number,
                        read=body.read,
                        listed=group,
                        record=record,
                        on_member=member,
                        sink=sink,
                        on_bytes=on_bytes,
                        cancelled=stop.is_set,
                    )
                except pack_read.Cancelled:
                    raise Cancelled from None
        finally:
            body.close()

    try:
        reads = [r for r in run_parallel(read_one, work(), workers=workers) if r is not None]
    finally:
        if index_body is not None:
            index_body.close()
    if reader is not None:
        out.problems.extend(reader.problems)
    for r in sorted(reads, key=lambda r: r.number):
        out.problems.extend(r.problems)
    out.problems.extend(pack_read.check_segment_order(reads))
    return out
