"""Dates that apps write into the names of the files they save.

A photo forwarded through WhatsApp or Signal has lost its EXIF, but its name
often says when the app saved it: that is when it arrived on this phone, not
when it was taken, and the record says so.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

LABEL = "from the file name: when the app saved the file, not when it was captured"

# (app, pattern); named groups y m d and optionally H M S, ms.
_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "WhatsApp",
        re.compile(r"^(?:IMG|VID|AUD|PTT|DOC|STK)-(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})-WA\d+"),
    ),
    (
        "Pixel camera",
        re.compile(
            r"^PXL_(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})_(?P<H>\d{2})(?P<M>\d{2})(?P<S>\d{2})(?P<ms>\d{3})"
        ),
    ),
    (
        "Signal",
        re.compile(
            r"^signal-(?P<y>\d{4})-(?P<m>\d{2})-(?P<d>\d{2})-(?P<H>\d{2})-?(?P<M>\d{2})-?(?P<S>\d{2})"
        ),
    ),
    (
        "Telegram",
        re.compile(
            r"^(?:photo|video|file)_(?P<y>\d{4})-(?P<m>\d{2})-(?P<d>\d{2})_(?P<H>\d{2})-(?P<M>\d{2})-(?P<S>\d{2})"
        ),
    ),
    (
        "camera",
        re.compile(
            r"^(?:IMG|VID|PANO|MVIMG|Screenshot)_(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})_(?P<H>\d{2})(?P<M>\d{2})(?P<S>\d{2})"
        ),
    ),
)


def date_from_name(name: str) -> dict[str, Any] | None:
    """The date (and time) an app's naming scheme puts in `name`, with the app
    and the label saying what it means; None when no known scheme matches or
    the date is impossible. Times are local to the phone, zone unknown."""
    for app, pattern in _PATTERNS:
        m = pattern.match(name)
        if m is None:
            continue
        g = m.groupdict()
        try:
            if g.get("H") is None:
                value = datetime(int(g["y"]), int(g["m"]), int(g["d"])).strftime("%Y-%m-%d")
            else:
                dt = datetime(
                    int(g["y"]), int(g["m"]), int(g["d"]), int(g["H"]), int(g["M"]), int(g["S"])
                )
                value = dt.strftime("%Y-%m-%dT%H:%M:%S")
                if g.get("ms"):
                    value += f".{g['ms']}"
        except ValueError:
            return None
        if not 1990 <= int(g["y"]) <= 2100:
            return None
        return {"value": value, "app": app, "label": LABEL}
    return None
