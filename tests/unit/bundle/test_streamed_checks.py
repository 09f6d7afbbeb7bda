"""The streamed forms of verification's checks against the whole-file ones they
replace: the commitment root built leaf by leaf against CommitmentTree, the
streamed manifest against layout.parse_manifest, audit's comparison against the
quadratic one it had (an exact oracle, random inputs with duplicates)."""

from __future__ import annotations

import io
from collections import defaultdict
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from custody.base.models import Problem
from custody.base.spill import SpillDir
from custody.bundle.format import layout
from custody.bundle.format.commitment_tree import CommitmentTree, StreamingRoot
from custody.bundle.verify.manifest import ListedManifest, join
from custody.ops.audit import compare
from custody.tlog.merkle import leaf_hash


def test_the_streamed_root_is_the_trees_root() -> None:
    for size in range(70):
        leaves = [f"leaf {i}".encode() for i in range(size)]
        streamed = StreamingRoot()
        for leaf in leaves:
            streamed.append(leaf_hash(leaf))
        assert streamed.root == CommitmentTree([leaf_hash(x) for x in leaves]).root


LINES = st.lists(
    st.one_of(
        st.tuples(
            st.sampled_from(["a", "b", "c", "d/e", "é"]), st.sampled_from(["0" * 64, "1" * 64])
        ).map(lambda t: f"{t[1]}  data/{t[0]}"),
        st.sampled_from(["garbage", "", f"{'2' * 64}  ../up", f"{'3' * 64}  data/x\r"]),
    ),
    max_size=12,
)


@given(LINES, st.booleans(), st.booleans())
def test_the_streamed_manifest_reads_as_parse_manifest(
    lines: list[str], final_newline: bool, bad_byte: bool
) -> None:
    data = "\n".join(lines).encode() + (b"\n" if final_newline and lines else b"")
    if bad_byte:
        data += b"\xff\n"
    entries, errors = layout.parse_manifest(data)
    where = SpillDir()
    try:
        streamed = ListedManifest(io.BytesIO(data), where)
        assert streamed.errors == errors
        assert len(streamed) == len(entries)
        assert sorted(entries.items()) == list(streamed.items())
        # the order each path had in the file
        order = [p for p, _, _ in sorted(streamed.entries(), key=lambda e: e[2])]
        assert order == list(entries)
    finally:
        where.close()


def test_join_pairs_two_sorted_streams() -> None:
    left = [("a", 1), ("c", 3), ("d", 4)]
    right = [("b", "B"), ("c", "C"), ("e", "E")]
    assert list(join(left, right)) == [
        ("a", 1, None),
        ("b", None, "B"),
        ("c", 3, "C"),
        ("d", 4, None),
        ("e", None, "E"),
    ]


def _old_compare(bundle_files: dict[str, str], folder_files: dict[str, str]) -> dict[str, Any]:
    """audit's comparison as it was (quadratic): the oracle."""
    matched = sorted(p for p, h in bundle_files.items() if folder_files.get(p) == h)
    left_bundle = {p: h for p, h in bundle_files.items() if p not in set(matched)}
    left_folder = {p: h for p, h in folder_files.items() if p not in set(matched)}
    by_hash_bundle: dict[str, list[str]] = defaultdict(list)
    by_hash_folder: dict[str, list[str]] = defaultdict(list)
    for p, h in sorted(left_bundle.items()):
        by_hash_bundle[h].append(p)
    for p, h in sorted(left_folder.items()):
        by_hash_folder[h].append(p)
    moved = []
    for h, bundle_paths in by_hash_bundle.items():
        folder_paths = by_hash_folder.get(h, [])
        candidates = [p for p in folder_paths if p not in left_bundle] + [
            p for p in folder_paths if p in left_bundle
        ]
        for bp in list(bundle_paths):
            if not candidates:
                break
            fp = candidates.pop(0)
            moved.append((bp, fp))
            bundle_paths.remove(bp)
            folder_paths.remove(fp)
    moved_bundle = {a for a, _ in moved}
    moved_folder = {b for _, b in moved}
    modified = sorted(
        p
        for p in left_bundle
        if p in left_folder and p not in moved_bundle and p not in moved_folder
    )
    missing = sorted(p for p in left_bundle if p not in moved_bundle and p not in modified)
    new = sorted(p for p in left_folder if p not in moved_folder and p not in modified)
    return {
        "matched": matched,
        "moved": sorted(moved),
        "modified": modified,
        "new": new,
        "missing": missing,
    }


FILES = st.dictionaries(st.sampled_from("abcdefgh"), st.sampled_from("xyz"), max_size=8)


@given(FILES, FILES)
def test_audit_compares_as_it_always_did(bundle: dict[str, str], folder: dict[str, str]) -> None:
    assert compare(bundle, folder) == _old_compare(bundle, folder)


SEGMENTS = st.sampled_from(["a", "b", "a/b", "b/a", "a/b/c", "x", "\u00e9", ""])
ORIGINALS = st.sampled_from([b"a", b"b", b"a/b", b"a/b/c", b"b/c", b"\xff", b"/abs", b"x", b"a/x"])


@given(
    st.lists(SEGMENTS.map(lambda s: f"data/{s}"), max_size=8)
    | st.lists(st.sampled_from(["data/a", "data/b", "tags.txt", "data/a/b"]), max_size=4),
    st.dictionaries(
        st.sampled_from(["data/a", "data/b", "data/a/b", "data/x", "data/q", "other"]),
        ORIGINALS,
        max_size=5,
    ),
    st.integers(1, 4),
)
def test_the_streamed_names_check_finds_what_check_names_map_finds(
    paths: list[str], originals: dict[str, bytes], run: int
) -> None:
    from custody.base import spill
    from custody.bundle.format.names import check_names_map
    from custody.bundle.verify.names_streamed import check_names_streamed

    listing = {p: "0" * 64 for p in paths}
    where = SpillDir()
    saved = spill.RUN_SIZE
    spill.RUN_SIZE = run  # runs on disk even for a handful of names
    try:
        manifest = ListedManifest.of(listing, where)
        assert check_names_streamed(originals, manifest, "data/", where) == check_names_map(
            originals, listing, "data/"
        )
    finally:
        spill.RUN_SIZE = saved
        where.close()


def _old_check_commitments(
    data: bytes | None, has_manifest: bool, statement: dict[str, Any], manifest: dict[str, str]
) -> tuple[str | None, list[Problem]]:
    """check_commitments as it was (the whole file, a tree, a dict): the oracle."""
    from custody.bundle.format import commitments as L

    problems: list[Problem] = []
    com = statement["commitments"]
    where = L.COMMITMENTS_PATH
    if data is None:
        return None, [Problem("missing", where, "the commitments the statement signed are missing")]
    lines = data.split(b"\n")
    if lines[-1] != b"":
        return None, [Problem("statement_mismatch", where, "last line has no line ending")]
    lines.pop()
    if len(lines) != com["leaves"]:
        detail = f"holds {len(lines)} leaves, the statement signed {com['leaves']}"
        return None, [Problem("statement_mismatch", where, detail)]
    if CommitmentTree([leaf_hash(x) for x in lines]).root.hex() != com.get("root"):
        detail = "does not lead to the root the statement signed"
        return None, [Problem("statement_mismatch", where, detail)]
    files = com["files"]
    listed = {}
    for i in range(min(files, len(lines))):
        try:
            leaf = L.parse_leaf(lines[i])
        except L.LeafError as e:
            return None, [Problem("statement_mismatch", where, f"leaf {i}: {e}")]
        listed[leaf.get("path")] = leaf.get("sha256")
    if has_manifest and listed != manifest:
        problems.append(
            Problem("statement_mismatch", where, "the committed files are not the manifest's")
        )
    note_at = com.get("note_leaf")
    if isinstance(note_at, int) and 0 <= note_at < len(lines):
        try:
            return str(L.parse_leaf(lines[note_at]).get("value")), problems
        except L.LeafError:
            problems.append(Problem("statement_mismatch", where, "the note leaf is unreadable"))
    return None, problems


LEAF = st.one_of(
    st.tuples(
        st.sampled_from(["data/a", "data/b", "data/c"]), st.sampled_from(["1" * 64, "2" * 64])
    ),
    st.sampled_from(["note", "garbage"]),
)


@given(
    st.lists(LEAF, max_size=7),
    st.integers(-1, 8),
    st.integers(-1, 8),
    st.dictionaries(
        st.sampled_from(["data/a", "data/b", "data/c"]), st.sampled_from(["1" * 64, "2" * 64])
    ),
    st.booleans(),
    st.integers(1, 3),
)
def test_the_streamed_commitments_check_finds_what_the_whole_file_one_found(
    leaves: list[Any],
    files: int,
    note_at: int,
    manifest: dict[str, str],
    sorted_first: bool,
    run: int,
) -> None:
    from custody.base import spill
    from custody.bundle.format import commitments as L
    from custody.bundle.read.scan import BundleScan, ScannedFile
    from custody.bundle.verify.check_commitments import check_commitments

    if sorted_first:
        leaves = sorted(leaves, key=str)
    lines = [
        L.file_leaf(x[0], x[1], 1)
        if isinstance(x, tuple)
        else (L.note_leaf("the note") if x == "note" else b"garbage")
        for x in leaves
    ]
    data = b"".join(line + b"\n" for line in lines)
    root = CommitmentTree([leaf_hash(x) for x in lines]).root.hex()
    statement = {
        "commitments": {"leaves": len(lines), "files": files, "root": root, "note_leaf": note_at}
    }
    saved = spill.RUN_SIZE
    spill.RUN_SIZE = run
    try:
        scan = BundleScan("/nowhere")
        scan.add(L.COMMITMENTS_PATH, ScannedFile(len(data), "x"), data, None)
        scan.add(layout.MANIFEST, ScannedFile(1, "x"), b"", None)
        found: list[Problem] = []
        listing = ListedManifest.of(manifest, scan.spill)
        note = check_commitments(scan, statement, listing, found)
        assert (note, found) == _old_check_commitments(data, True, statement, manifest)
        scan.close()
    finally:
        spill.RUN_SIZE = saved
