"""Where a new bundle goes and what it is called: the case and exhibit labels
checked, and a fresh folder name CASE_EXHIBIT_TIME inside --out (or --out itself)."""

from __future__ import annotations

import os
import re
from datetime import datetime
from pathlib import Path

from custody.base.errors import InputError
from custody.bundle.format import layout

MAX_CASE_LENGTH = 200


def check_label(value: str, what: str) -> str:
    value = value.strip()
    if not value:
        raise InputError(f"{what} must not be empty")
    if len(value) > MAX_CASE_LENGTH:
        raise InputError(f"{what} is longer than {MAX_CASE_LENGTH} characters")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        raise InputError(f"{what} contains control characters")
    return value


def _safe_name_part(value: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", value).strip("-.")[:80] or "bundle"


def choose_bundle_path(
    *, out: Path | None, case: str, exhibit: str | None, created: datetime
) -> Path:
    """Where a new bundle goes: inside `out` when it is an existing folder (a
    fresh name CASE_EXHIBIT_TIME), or `out` itself when it does not exist yet."""
    base = Path.cwd() if out is None else out
    if out is not None and not base.exists():
        return base.absolute()
    if not base.is_dir():
        raise InputError("output exists and is not a folder", path=str(base))
    if (base / layout.BAGIT_TXT).exists():
        raise InputError("output is already a bundle; choose another --out", path=str(base))
    parts = [_safe_name_part(case)]
    if exhibit:
        parts.append(_safe_name_part(exhibit))
    parts.append(created.strftime("%Y%m%dT%H%M%SZ"))
    stem = "_".join(parts)
    candidate = base / stem
    n = 2
    while os.path.lexists(candidate):
        candidate = base / f"{stem}-{n}"
        n += 1
    return candidate.absolute()
