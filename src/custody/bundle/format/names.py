"""Evidence file names: the portable name a file is stored under, and the
signed map back to its original bytes (custody/names.json, docs/format.md).

A POSIX file name may hold any byte but '/' and NUL: backslashes (what
`unzip` makes of a Windows path), tabs, newlines, bytes that are not UTF-8.
BagIt tools, `sha256sum -c`, unzip and tar each mishandle some of these, and
custody's own manifest reader rejects them as an attacker's tricks. So such a
file is stored under an escaped, portable name, and the original bytes are
kept in a tag file the statement signs. A name the reader already accepts is
stored as itself; bundles made before this map existed have no such file and
are read exactly as before (ADR 0013).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass

import rfc8785

NAMES = "custody/names.json"
NAMES_FORMAT = "custody/names/v1"
MAX_COMPONENT_BYTES = 255
"""The longest file name (one path component) Linux, macOS and Windows allow."""
_SUFFIX_HEX = 16
_UNSAFE_CHAR = re.compile(r"[\x00-\x1f\\%]")
_HEX = re.compile(r"(?:[0-9a-f]{2})+")


def component_is_portable(raw: bytes) -> bool:
    """True when a file name (one component) can be stored as itself: UTF-8,
    no control character, no backslash (what the manifest reader accepts), and
    no '%' (which `sha256sum -c` would read literally where BagIt decodes it),
    and no white space at its end (which bagit-python strips)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    # bagit-python strips white space from the end of a manifest line.
    return _UNSAFE_CHAR.search(text) is None and not text[-1:].isspace()


def _escape_units(raw: bytes) -> list[str]:
    # Each unit is one character kept as is, or one byte as =XX (as in RFC 2045
    # quoted-printable): bytes that are not UTF-8, control characters, '\\',
    # '%', '=' itself, and white space at the end.
    units = []
    for ch in raw.decode("utf-8", "surrogateescape"):
        code = ord(ch)
        if 0xDC80 <= code <= 0xDCFF:
            units.append(f"={code - 0xDC00:02X}")
        elif code < 0x20 or ch in "\\%=":
            units.append(f"={code:02X}")
        else:
            units.append(ch)
    if units and units[-1].isspace():
        units[-1] = "".join(f"={b:02X}" for b in units[-1].encode("utf-8"))
    return units


def _fit(units: list[str], suffix: str) -> str:
    """The escaped units cut to fit MAX_COMPONENT_BYTES together with `suffix`."""
    room = MAX_COMPONENT_BYTES - len(suffix.encode("utf-8"))
    out: list[str] = []
    used = 0
    for unit in units:
        size = len(unit.encode("utf-8"))
        if used + size > room:
            break
        out.append(unit)
        used += size
    return "".join(out) + suffix


def escaped_component(raw: bytes, attempt: int = 0) -> str:
    """The portable stored form of a file name that cannot be stored as itself:
    each unsafe byte as =XX (uppercase hex), at most 255 bytes. A name whose
    escaped form is too long, or already taken (`attempt` > 0), ends in '~' and
    16 hex digits of the SHA-256 of the original name (and '-N' after that)."""
    units = _escape_units(raw)
    whole = "".join(units)
    if attempt == 0 and len(whole.encode("utf-8")) <= MAX_COMPONENT_BYTES:
        return whole
    suffix = "~" + hashlib.sha256(raw).hexdigest()[:_SUFFIX_HEX]
    if attempt > 1:
        suffix += f"-{attempt}"
    return _fit(units, suffix)


def stored_names(raw_names: Iterable[bytes]) -> dict[bytes, str]:
    """Stored names for the entries of one folder: a portable name as itself,
    every other one escaped; no two alike. Portable names are kept first, so
    the escaped ones give way when an escaped form equals a real name."""
    raws = sorted(set(raw_names))
    out: dict[bytes, str] = {}
    taken: set[str] = set()
    for raw in raws:
        if component_is_portable(raw):
            name = raw.decode("utf-8")
            out[raw] = name
            taken.add(name)
    for raw in raws:
        if raw in out:
            continue
        attempt = 0
        name = escaped_component(raw)
        while name in taken:
            attempt += 1
            name = escaped_component(raw, attempt)
        out[raw] = name
        taken.add(name)
    return out


def portable_path(path: str, taken: set[str]) -> str:
    """A relative path custody names itself (a ZIP member's working copy under
    `ingest --expand`) made portable: each component kept when portable and at
    most 255 bytes, escaped otherwise, the last one given way until the path is
    not in `taken`. The member's own name is kept in its metadata record."""
    parts = path.split("/")
    out = [
        p
        if component_is_portable(p.encode()) and len(p.encode()) <= MAX_COMPONENT_BYTES
        else escaped_component(p.encode("utf-8", "surrogateescape"))
        for p in parts
    ]
    last = parts[-1].encode("utf-8", "surrogateescape")
    attempt = 0
    while "/".join(out) in taken:
        attempt += 1
        out[-1] = escaped_component(last, attempt)
    return "/".join(out)


# --- custody/names.json ---------------------------------------------------------


def names_file_bytes(originals: dict[str, bytes]) -> bytes:
    """custody/names.json for {stored manifest path: original path bytes under
    data/}: RFC 8785 canonical JSON, entries sorted by the stored path's UTF-8."""
    entries = [
        {"original_hex": original.hex(), "path": path}
        for path, original in sorted(originals.items(), key=lambda e: e[0].encode("utf-8"))
    ]
    return bytes(rfc8785.dumps({"format": NAMES_FORMAT, "names": entries}))


class NamesError(ValueError):
    """custody/names.json cannot be read as a names file."""


@dataclass(frozen=True)
class NameProblem:
    """An entry of custody/names.json that custody cannot accept."""

    path: str | None
    detail: str


def parse_names_file(data: bytes) -> dict[str, bytes]:
    """{stored manifest path: original path bytes under data/}, read strictly.
    Raises NamesError when the bytes are not exactly what names_file_bytes writes
    for some map (canonical JSON, known fields, hex, sorted, no repeats)."""
    try:
        obj = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise NamesError("not UTF-8") from e
    except json.JSONDecodeError as e:
        raise NamesError(f"not JSON ({e.msg} at byte {e.pos})") from e
    if not isinstance(obj, dict) or set(obj) != {"format", "names"}:
        raise NamesError("not an object with exactly 'format' and 'names'")
    if obj["format"] != NAMES_FORMAT:
        raise NamesError(f"unknown format {obj['format']!r}")
    if not isinstance(obj["names"], list):
        raise NamesError("'names' is not a list")
    originals: dict[str, bytes] = {}
    for number, entry in enumerate(obj["names"], start=1):
        if not isinstance(entry, dict) or set(entry) != {"original_hex", "path"}:
            raise NamesError(f"entry {number} is not an object with 'original_hex' and 'path'")
        path, hexed = entry["path"], entry["original_hex"]
        if not isinstance(path, str) or not isinstance(hexed, str) or not _HEX.fullmatch(hexed):
            raise NamesError(f"entry {number}: 'path' or 'original_hex' (lowercase hex) malformed")
        if path in originals:
            raise NamesError(f"entry {number}: {path!r} is listed more than once")
        originals[path] = bytes.fromhex(hexed)
    try:
        canonical = names_file_bytes(originals)
    except UnicodeEncodeError as e:
        raise NamesError("a path is not UTF-8") from e
    if canonical != data:
        raise NamesError("not in the form custody writes (RFC 8785, entries sorted by path)")
    return originals


def original_path_reason(original: bytes) -> str | None:
    """Why an original name could not be restored under a folder, or None: it
    must be a relative path of non-empty components, none '.' or '..', no NUL,
    each at most 255 bytes."""
    if b"\x00" in original:
        return "NUL in original name"
    parts = original.split(b"/")
    if any(p in (b"", b".", b"..") for p in parts):
        return "original name is absolute, or has an empty, '.' or '..' component"
    if any(len(p) > MAX_COMPONENT_BYTES for p in parts):
        return "original name has a component longer than 255 bytes"
    return None


def check_names_map(
    originals: dict[str, bytes], manifest_paths: Collection[str], prefix: str
) -> list[NameProblem]:
    """Every entry names a payload file of the manifest and differs from it; every
    original is a safe relative path; no two files have the same original, and no
    original is another's folder. `prefix` is 'data/'."""
    problems: list[NameProblem] = []
    listed = manifest_paths
    for path, original in originals.items():
        if path not in listed or not path.startswith(prefix):
            problems.append(NameProblem(path, "names a file the payload manifest does not list"))
        elif original == path[len(prefix) :].encode("utf-8"):
            problems.append(NameProblem(path, "original name is the stored name"))
        reason = original_path_reason(original)
        if reason is not None:
            problems.append(NameProblem(path, reason))
    restored: dict[bytes, str] = {}
    for path in sorted(listed):
        if not path.startswith(prefix):
            continue
        original = originals.get(path, path[len(prefix) :].encode("utf-8"))
        other = restored.setdefault(original, path)
        if other != path:
            problems.append(NameProblem(path, f"same original name as {other}"))
    for original, path in restored.items():
        parts = original.split(b"/")
        for depth in range(1, len(parts)):
            folder = b"/".join(parts[:depth])
            if folder in restored:
                problems.append(
                    NameProblem(path, f"original name lies inside {restored[folder]}'s name")
                )
                break
    return problems


def display_name(original: bytes) -> str:
    """An original name as text: its UTF-8, undecodable bytes kept as
    surrogates (os.fsdecode's convention), for the output layer to show."""
    return original.decode("utf-8", "surrogateescape")
