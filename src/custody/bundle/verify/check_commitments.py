"""The commitments of an evidentiary bundle (custody/commitments.jsonl)
against its signed statement: every leaf present, the tree leading to the
signed root, and the file leaves naming exactly the manifest's files."""

from __future__ import annotations

import io
import itertools
from collections.abc import Callable, Iterator, Mapping
from typing import IO, Any

from custody.base.models import Problem
from custody.base.spill import SortedSpill
from custody.bundle.format import commitments as L
from custody.bundle.format.commitment_tree import StreamingRoot
from custody.bundle.format.layout import MANIFEST
from custody.bundle.read.scan import BundleScan
from custody.bundle.verify.manifest import ListedManifest, sorted_listing
from custody.tlog.merkle import leaf_hash


def check_commitments(
    scan: BundleScan,
    statement: dict[str, Any] | None,
    manifest: ListedManifest | Mapping[str, Any],
    problems: list[Problem],
) -> str | None:
    """Append a problem for each way the commitments disagree with the
    statement or the manifest (`manifest`: {path: SHA-256 or (size, SHA-256)}).
    Returns the officer's note from its committed leaf, when it checks out."""
    com = statement.get("commitments") if statement else None
    if com is None:
        return None
    where = L.COMMITMENTS_PATH
    if not isinstance(com, dict) or not all(
        isinstance(com.get(k), int) and not isinstance(com.get(k), bool)
        for k in ("leaves", "files")
    ):
        problems.append(Problem("bad_statement", "custody/statement.json", "commitments malformed"))
        return None
    kept = scan.tag_bytes.open(where)
    if kept is not None:
        kept.close()
        opened: Callable[[], IO[bytes] | None] = lambda: scan.tag_bytes.open(where)  # noqa: E731
    else:  # not kept by the scan (too large): read again, once
        data = scan.read_tag(where)
        if data is None:
            problems.append(
                Problem("missing", where, "the commitments the statement signed are missing")
            )
            return None
        opened = lambda: io.BytesIO(data)  # noqa: E731
    # Streamed twice from the bytes the scan kept (a leaf per file: hundreds of
    # megabytes at a million files): the count and the root, then the leaves.
    count, ended, root = 0, True, StreamingRoot()
    for line in _lines(opened):
        ended = line.endswith(b"\n")
        root.append(leaf_hash(line.removesuffix(b"\n")))
        count += 1
    if not ended:
        problems.append(Problem("statement_mismatch", where, "last line has no line ending"))
        return None
    if count != com["leaves"]:
        problems.append(
            Problem(
                "statement_mismatch",
                where,
                f"holds {count} leaves, the statement signed {com['leaves']}",
            )
        )
        return None
    if root.root.hex() != com.get("root"):
        problems.append(
            Problem("statement_mismatch", where, "does not lead to the root the statement signed")
        )
        return None
    note_at = com.get("note_leaf")
    # The file leaves as custody writes them, in path order, are compared with
    # the manifest as they are read; in any other order, sorted on disk first.
    leaves = _file_leaves(_lines(opened), com["files"], note_at, manifest, None)
    if leaves is None:
        leaves = _file_leaves(
            _lines(opened), com["files"], note_at, manifest, SortedSpill(scan.spill)
        )
    assert leaves is not None
    if isinstance(leaves, Problem):
        problems.append(leaves)
        return None
    same, note_line = leaves
    # Without a manifest to compare with, its absence is the problem already named.
    if MANIFEST in scan.files and not same:
        problems.append(
            Problem("statement_mismatch", where, "the committed files are not the manifest's")
        )
    if isinstance(note_at, int) and note_line is not None:
        try:
            return str(L.parse_leaf(note_line).get("value"))
        except L.LeafError:
            problems.append(Problem("statement_mismatch", where, "the note leaf is unreadable"))
    return None


def _file_leaves(
    lines: Iterator[bytes],
    files: int,
    note_at: Any,
    manifest: ListedManifest | Mapping[str, Any],
    listed: SortedSpill | None,
) -> tuple[bool, bytes | None] | Problem | None:
    """Whether the first `files` leaves, as a dict {path: SHA-256}, are the
    manifest's, and the note leaf's bytes; or the problem of the first leaf
    that cannot be read. Without a spill (`listed` None) the leaves must come
    in increasing path order, compared as read: None when they do not."""
    expected = ((p, d) for p, d, _ in sorted_listing(manifest))
    note_line: bytes | None = None
    comparable = True  # a manifest's paths and digests are text
    same = True
    previous: str | None = None
    for i, raw in enumerate(lines):
        line = raw.removesuffix(b"\n")
        if i == note_at:
            note_line = line
        if i >= files:
            continue
        try:
            leaf = L.parse_leaf(line)
        except L.LeafError as e:
            return Problem("statement_mismatch", L.COMMITMENTS_PATH, f"leaf {i}: {e}")
        path, digest = leaf.get("path"), leaf.get("sha256")
        if not (isinstance(path, str) and isinstance(digest, str)):
            comparable = False
        elif listed is not None:
            listed.add(path, digest)
        else:
            if previous is not None and path <= previous:
                return None
            previous = path
            same = same and next(expected, None) == (path, digest)
    if listed is not None:
        return comparable and _same(listed, manifest), note_line
    return comparable and same and next(expected, None) is None, note_line


def _lines(opened: Callable[[], IO[bytes] | None]) -> Iterator[bytes]:
    stream = opened()
    if stream is None:
        return
    with stream:
        yield from stream


def _same(listed: SortedSpill, manifest: ListedManifest | Mapping[str, Any]) -> bool:
    """Whether the file leaves, as a dict ({path: SHA-256}, a later leaf for a
    path replacing an earlier), equal the manifest's {path: SHA-256}."""

    def last_of_each() -> Iterator[tuple[str, str]]:
        held: tuple[str, str] | None = None
        for pair in listed:
            if held is not None and held[0] != pair[0]:
                yield held
            held = pair
        if held is not None:
            yield held

    expected = ((p, d) for p, d, _ in sorted_listing(manifest))
    end = ("", None)
    return all(a == b for a, b in itertools.zip_longest(last_of_each(), expected, fillvalue=end))


def with_committed_note(
    statement: dict[str, Any] | None, note: str | None
) -> dict[str, Any] | None:
    """The statement as a report shows it: with the note its commitments hold."""
    if statement is None or note is None:
        return statement
    return {**statement, "note": note}
