"""Reading custody/metadata.json one record at a time, from a stream of lines.

The file is written one record a line (metadata_chunks): a header line, the
records each followed by a comma but the last, and a trailer line. A reader that
keeps to that layout, strictly, holds one record at a time whatever the file
count, and finds exactly the records a whole-document parse would find: any
other layout (a file edited by hand, pretty-printed, with a key repeated after
the records) is refused with ValueError, and the caller may then read the
document whole.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from typing import Any

HEADER = b'{"files": [\n'
# The trailer: the records' end and the format, nothing after it. A repeated
# "files" key here would make a whole-document parse see other records.
_TRAILER = re.compile(rb'\], "format": "[0-9A-Za-z._/:+-]*"\}\n?')


def metadata_records(lines: Iterable[bytes]) -> Iterator[Any]:
    """Each record of a custody/metadata.json given as its lines (with their
    line ends, as a binary file yields them), parsed one at a time: a dict for
    a record, or whatever other JSON value the line holds (the caller skips
    those, as a whole-document reader does). Raises ValueError (including
    UnicodeDecodeError and json.JSONDecodeError) when the lines are not in the
    one-record-a-line layout."""
    it = iter(lines)
    if next(it, b"") != HEADER:
        raise ValueError("not a custody metadata file in the one-record-a-line layout")
    pending: bytes | None = None  # a record line, held until the next line says if it is last
    empty = False  # no records: metadata_chunks writes an empty line before the trailer
    for line in it:
        if empty and not line.startswith(b"]"):
            raise ValueError("an empty line among the metadata records")
        if line.startswith(b"]"):
            if pending is not None and pending.endswith(b","):
                raise ValueError("a comma after the last metadata record")
            if not _TRAILER.fullmatch(line) or next(it, None) is not None:
                raise ValueError("metadata file does not end as written")
            if pending is not None:
                yield json.loads(pending.decode("utf-8"))
            return
        if pending is not None:
            if not pending.endswith(b","):
                raise ValueError("a metadata record without its comma")
            yield json.loads(pending[:-1].decode("utf-8"))
        if not line.endswith(b"\n"):
            raise ValueError("metadata file ends early")
        if line == b"\n" and pending is None and not empty:
            empty = True
            continue
        pending = line[:-1]
        if not pending.strip():
            raise ValueError("an empty line among the metadata records")
    raise ValueError("metadata file ends early")
