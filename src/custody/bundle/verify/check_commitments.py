"""The commitments of an evidentiary bundle (custody/commitments.jsonl)
against its signed statement: every leaf present, the tree leading to the
signed root, and the file leaves naming exactly the manifest's files."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from custody.base.models import Problem
from custody.bundle.format import commitments as L
from custody.bundle.format.commitment_tree import CommitmentTree
from custody.bundle.format.layout import MANIFEST
from custody.bundle.read.scan import BundleScan
from custody.tlog.merkle import leaf_hash


def check_commitments(
    scan: BundleScan,
    statement: dict[str, Any] | None,
    manifest: Mapping[str, Any],
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
    data = scan.read_tag(where)
    if data is None:
        problems.append(
            Problem("missing", where, "the commitments the statement signed are missing")
        )
        return None
    lines = data.split(b"\n")
    if lines[-1] != b"":
        problems.append(Problem("statement_mismatch", where, "last line has no line ending"))
        return None
    lines.pop()
    if len(lines) != com["leaves"]:
        problems.append(
            Problem(
                "statement_mismatch",
                where,
                f"holds {len(lines)} leaves, the statement signed {com['leaves']}",
            )
        )
        return None
    if CommitmentTree([leaf_hash(x) for x in lines]).root.hex() != com.get("root"):
        problems.append(
            Problem("statement_mismatch", where, "does not lead to the root the statement signed")
        )
        return None
    files = com["files"]
    listed = {}
    for i in range(min(files, len(lines))):
        try:
            leaf = L.parse_leaf(lines[i])
        except L.LeafError as e:
            problems.append(Problem("statement_mismatch", where, f"leaf {i}: {e}"))
            return None
        listed[leaf.get("path")] = leaf.get("sha256")
    expected = {p: (v[1] if isinstance(v, tuple) else v) for p, v in manifest.items()}
    # Without a manifest to compare with, its absence is the problem already named.
    if MANIFEST in scan.files and listed != expected:
        problems.append(
            Problem("statement_mismatch", where, "the committed files are not the manifest's")
        )
    note_at = com.get("note_leaf")
    if isinstance(note_at, int) and 0 <= note_at < len(lines):
        try:
            return str(L.parse_leaf(lines[note_at]).get("value"))
        except L.LeafError:
            problems.append(Problem("statement_mismatch", where, "the note leaf is unreadable"))
    return None


def with_committed_note(
    statement: dict[str, Any] | None, note: str | None
) -> dict[str, Any] | None:
    """The statement as a report shows it: with the note its commitments hold."""
    if statement is None or note is None:
        return statement
    return {**statement, "note": note}
