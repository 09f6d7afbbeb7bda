"""custody/names.json against the statement that signs it and the manifest
it maps back to original names (docs/format.md, ADR 0013). Pure: a scan in,
problems and the map out. A bundle without the file (every bundle made before
it existed) is not touched."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

from custody.base.models import Problem
from custody.bundle.format import layout
from custody.bundle.format.names import NAMES, NamesError, check_names_map, parse_names_file
from custody.bundle.read.scan import BundleScan
from custody.bundle.verify.check_payload import check_read_back
from custody.bundle.verify.manifest import ListedManifest
from custody.bundle.verify.names_streamed import check_names_streamed


def check_names(
    scan: BundleScan,
    manifest: Collection[str],
    statement: dict[str, Any] | None,
    problems: list[Problem],
) -> dict[str, bytes]:
    """Check the names file against the payload paths the manifest lists;
    returns {stored manifest path: original bytes under data/}, empty when there
    is none or it cannot be trusted."""
    found = scan.files.get(NAMES)
    signed = statement.get("names_sha256") if statement is not None else None
    if found is None:
        if signed is not None and NAMES not in scan.odd_paths:
            problems.append(Problem("missing", NAMES, "signed by the statement but missing"))
        return {}
    if statement is None:
        return {}  # the statement's own problem is reported; nothing binds this file
    if signed is None:
        problems.append(Problem("bad_names", NAMES, "the statement signs no names file"))
        return {}
    if found.sha256 != signed:
        problems.append(
            Problem("statement_mismatch", NAMES, "differs from the version the statement signed")
        )
        return {}
    data = scan.read_tag(NAMES)
    if data is None:
        problems.append(Problem("bad_names", NAMES, "cannot be read"))
        return {}
    try:
        originals = parse_names_file(data)
    except NamesError as e:
        problems.append(Problem("bad_names", NAMES, str(e)))
        return {}
    if isinstance(manifest, ListedManifest):  # streamed: never a set of every path
        bad = check_names_streamed(originals, manifest, layout.PAYLOAD_DIR + "/", scan.spill)
    else:
        bad = check_names_map(originals, manifest, layout.PAYLOAD_DIR + "/")
    for p in bad:
        problems.append(Problem("bad_names", NAMES, f"{p.path}: {p.detail}"))
    return {} if bad else originals


def check_written_names(
    manifest_bytes: bytes | Path, names_bytes: bytes | None, copied: Mapping[str, tuple[int, str]]
) -> list[Problem]:
    """Ingest's read-back of what it just wrote, before anything is signed into
    the ledger: the manifest (its bytes, or the file, streamed), read as verify
    reads it, must list exactly the files copied ({manifest path: (size,
    SHA-256)}, possibly on disk), and the names map must be one that verify
    accepts."""
    problems: list[Problem] = []
    check_read_back(manifest_bytes, copied, problems)
    if names_bytes is not None:
        try:
            originals = parse_names_file(names_bytes)
        except NamesError as e:
            return [*problems, Problem("bad_names", NAMES, str(e))]
        for p in check_names_map(originals, copied.keys(), layout.PAYLOAD_DIR + "/"):
            problems.append(Problem("bad_names", NAMES, f"{p.path}: {p.detail}"))
    return problems
