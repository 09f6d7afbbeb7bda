"""Files an operating system adds to any folder it shows: macOS Finder's
`.DS_Store`, AppleDouble `._name` files (on volumes that are not HFS+/APFS,
and under `__MACOSX/` in a zip made by Finder's Compress), a volume's
`.Spotlight-V100`, `.Trashes` and `.fseventsd`, Windows Explorer's
`Thumbs.db` and `desktop.ini`.

A clerk who opens a bundle on a Mac or a Windows PC adds them without
meaning to, and each used to make a good bundle fail with bare `extra` lines.
They are not evidence: the manifest never lists them, and the signature
covers nothing they say. So a file the manifest does not list, whose name
AND bytes are what the system writes, is set aside as an `os_leftover`,
named and listed with what added it; the evidence is judged without it.
Recognition is strict: a `.DS_Store` must start with its Bud1 header, a
`._name` must be an AppleDouble file beside a real `name`, a `Thumbs.db` an
OLE compound file, a `desktop.ini` plain INI text. Anything else, or any
such name the manifest lists, is judged as before (an unlisted file stays
`extra`, and the bundle is NOT VERIFIED). Pure: bytes and names in,
findings out. verifier/src/leftovers.js is the page's copy.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Collection, Mapping
from typing import IO, TYPE_CHECKING

from custody.base.models import Problem
from custody.bundle.format import layout

if TYPE_CHECKING:  # a pure check over a scan; the archive reader calls it
    from custody.bundle.read.scan import BundleScan, ScannedFile

KIND = "os_leftover"
MACOSX_DIR = "__MACOSX"
DS_STORE_MAGIC = b"\x00\x00\x00\x01Bud1"
APPLEDOUBLE_MAGIC = b"\x00\x05\x16\x07\x00\x02\x00\x00"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
MAX_LEFTOVER_BYTES = 16 * 1024 * 1024  # a larger file is not read: it stays extra
MAX_INI_BYTES = 64 * 1024
# Folders macOS keeps at the top of a volume: a bundle copied to the root of
# a stick carries them. Their contents cannot be checked byte by byte, so
# they are recognised only at the bundle's top, and every file is listed.
VOLUME_FOLDERS = {
    ".Spotlight-V100": "the Spotlight index macOS keeps at the top of a volume",
    ".Trashes": "the Trash macOS keeps at the top of a volume",
    ".fseventsd": "the file-event log macOS keeps at the top of a volume",
}
FINDER = "added by macOS Finder; not part of the evidence"
FINDER_COMPRESS = "added by macOS Finder's Compress; not part of the evidence"
EXPLORER = "added by Windows Explorer; not part of the evidence"


def candidate(path: str) -> bool:
    """Could this path be a leftover (decided by its name alone)? The page and
    the scan keep such files' bytes so that `classify` can look at them."""
    parts = path.split("/")
    name = parts[-1]
    return (
        name in (".DS_Store", "Thumbs.db", "desktop.ini")
        or name.startswith("._")
        or parts[0] in VOLUME_FOLDERS
        or parts[0] == MACOSX_DIR
    )


def _is_ini(data: bytes) -> bool:
    if len(data) > MAX_INI_BYTES:
        return False
    try:
        if data.startswith((b"\xff\xfe", b"\xfe\xff")):
            text = data.decode("utf-16")
        else:
            text = data.removeprefix(b"\xef\xbb\xbf").decode("utf-8")
    except UnicodeDecodeError:
        return False
    # Split and trimmed as the page does (verifier/src/leftovers.js).
    lines = [line.strip(" \t\r") for line in text.split("\n")]
    lines = [line for line in lines if line]
    if not lines or not (lines[0].startswith("[") and lines[0].endswith("]")):
        return False
    return all(
        (line.startswith("[") and line.endswith("]")) or line.startswith(";") or "=" in line
        for line in lines
    )


def classify(path: str, data: bytes | None, beside: Callable[[str], bool]) -> str | None:
    """Why `path` (with these bytes; None when not read) is a leftover, or None
    when it is not one. `beside(p)` says whether `p` is a file or folder of
    the bundle (an AppleDouble file describes the file it is named after)."""
    parts = path.split("/")
    name = parts[-1]
    if len(parts) > 1 and parts[0] in VOLUME_FOLDERS:
        return f"inside {parts[0]}, {VOLUME_FOLDERS[parts[0]]}; not part of the evidence"
    if data is None or len(data) > MAX_LEFTOVER_BYTES:
        return None
    if name == ".DS_Store" and data.startswith(DS_STORE_MAGIC):
        return f"folder view settings {FINDER}"
    if name == "Thumbs.db" and data.startswith(OLE_MAGIC):
        return f"thumbnail cache {EXPLORER}"
    if name == "desktop.ini" and _is_ini(data):
        return f"folder view settings {EXPLORER}"
    if name.startswith("._") and len(name) > 2 and data.startswith(APPLEDOUBLE_MAGIC):
        described = "/".join([*parts[:-1], name[2:]])
        if parts[0] == MACOSX_DIR:
            if beside(described.split("/", 1)[1] if "/" in described else ""):
                return f"resource fork of a zip member, {FINDER_COMPRESS}"
            return None
        if beside(described):
            return f"resource fork of {name[2:]}, {FINDER}"
    return None


def within(names: Collection[str]) -> Callable[[str], bool]:
    """`beside` for a set of file paths: is `p` one of them, or a folder of one?"""
    folders = set()
    for name in names:
        while "/" in name:
            name = name.rsplit("/", 1)[0]
            if name in folders:
                break
            folders.add(name)
    return lambda p: p in names or p in folders


def candidates(scan: BundleScan) -> dict[str, ScannedFile]:
    """The files of a scan whose names could make them leftovers (a few): of
    the payload, only names that start with a dot, Thumbs.db and desktop.ini
    can be (its folders are under data/), and the scan keeps those apart."""
    files = itertools.chain(scan.files.tags().items(), scan.files.dotted().items())
    return {
        path: scanned
        for path, scanned in files
        if candidate(path) and path not in layout.REQUIRED_TAG_FILES
    }


def listed_among(stream: IO[bytes] | None, names: Collection[str]) -> set[str]:
    """Which of `names` a manifest lists, read from `stream` line by line as
    layout.parse_manifest reads it (a file that is not UTF-8 lists nothing)."""
    found: set[str] = set()
    if stream is None:
        return found
    with stream:
        for number, raw in enumerate(stream, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                return set()
            parsed = layout.parse_manifest_line(line.removesuffix("\n"), number)
            if isinstance(parsed, tuple) and parsed[0] in names:
                found.add(parsed[0])
    return found


def _described(path: str) -> list[str]:
    """The paths `classify` may ask `beside` about for this file."""
    parts = path.split("/")
    name = parts[-1]
    if not name.startswith("._") or len(name) <= 2:
        return []
    described = "/".join([*parts[:-1], name[2:]])
    if parts[0] == MACOSX_DIR:
        return [described.split("/", 1)[1] if "/" in described else ""]
    return [described]


def _beside_among(scan: BundleScan, asked: set[str]) -> Callable[[str], bool]:
    """`within(every path of the scan)`, answered for the paths `asked` only,
    in one pass over the scan's files (never a set of every path)."""
    present: set[str] = set()
    if asked:
        for name in itertools.chain(scan.files, scan.odd_paths):
            if name in asked:
                present.add(name)
            while "/" in name:
                name = name.rsplit("/", 1)[0]
                if name in asked:
                    present.add(name)
    return lambda p: p in present


def set_aside(
    scan: BundleScan,
    listed: Collection[str],
    read: Callable[[str], bytes | None],
    found_candidates: Mapping[str, ScannedFile] | None = None,
) -> tuple[BundleScan, tuple[Problem, ...]]:
    """The scan without the leftovers no manifest lists, and the leftovers.
    `read(path)` gives a file's bytes when the scan did not keep them. Leftovers
    the archive reader found outside the bundle folder (`__MACOSX/`) arrive as
    os_leftover problems and are moved here too. `listed` need only say which
    of the candidates (`candidates(scan)`, given or found again) are listed."""
    if found_candidates is None:
        found_candidates = candidates(scan)
    asked = {d for path in found_candidates for d in _described(path)}
    beside = _beside_among(scan, asked)

    found: list[Problem] = [p for p in scan.problems if p.kind == KIND]
    gone: dict[str, ScannedFile] = {}
    for path, scanned in found_candidates.items():
        if path in listed:
            continue
        data = scan.tag_bytes.get(path)
        if data is None and scanned.size <= MAX_LEFTOVER_BYTES:
            data = read(path)
        why = classify(path, data, beside)
        if why is not None:
            gone[path] = scanned
            found.append(Problem(KIND, path, why))
    if not gone and len(found) == 0:
        return scan, ()
    cleaned = dataclasses.replace(
        scan,
        files=scan.files.without(gone),
        tag_bytes=scan.tag_bytes.only(lambda p: p not in gone),
        problems=[p for p in scan.problems if p.kind != KIND],
    )
    return cleaned, tuple(sorted(found, key=lambda p: p.path or ""))
