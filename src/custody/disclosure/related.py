"""Which metadata of a disclosed file names or repeats an item that is not disclosed
intact (a chat's attachment list, the raw EXIF GPS beside `gps`): such fields are
withheld with the item, so that nothing withheld leaks through another field."""

from __future__ import annotations

import re
from typing import Any

# What else in a record says what a withheld field says: the raw EXIF tags under
# `details` repeat the GPS position and the device, a video's `details` its place.
RELATED = {
    "gps": re.compile(r"gps|locat|latitude|longitude|loci|xyz|iso6709", re.I),
    "device": re.compile(r"make|model|serial|software|device|lens|owner|body", re.I),
    "captured_at": re.compile(r"date|time", re.I),
}


def repeats(value: Any, names: set[str]) -> bool:
    """Whether a field's value holds a key that repeats a withheld field."""
    patterns = [RELATED[n] for n in names if n in RELATED]
    if not patterns:
        return False
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, dict):
            if any(p.search(str(k)) for k in v for p in patterns):
                return True
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
    return False


def repeats_which(value: Any, names: set[str]) -> str | None:
    """The first withheld field (by name) whose value this one repeats, or None."""
    for name in sorted(names):
        if repeats(value, {name}):
            return name
    return None


def names_any(value: Any, protected: set[str]) -> bool:
    """Whether a metadata value holds, as a whole string (or the last part of a
    path), a SHA-256, path or name in `protected`."""
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, str):
            if v in protected or v.rsplit("/", 1)[-1] in protected:
                return True
        elif isinstance(v, dict):
            stack.extend(v.keys())
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
    return False
