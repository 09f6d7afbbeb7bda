"""The disclosed items of a package against their leaves: each file intact,
stripped, redacted or derived as the record says, and the items and withheld
files adding up to the committed count. Pure; see checks.py for the rest."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
from typing import IO, Any

from custody.base.models import Problem
from custody.bundle.format import commitments as L
from custody.disclosure import package as P
from custody.disclosure.checks import PackageEvidence, Parsed, withheld_files
from custody.disclosure.parts import free_box, message_numbers, redaction_marker


def check_items(ev: PackageEvidence, p: Parsed) -> list[Problem]:
    """Each disclosed item against its leaves; the items and withheld add up."""
    rec, st = p.record, p.statement
    if rec is None or st is None:
        return []
    if not rec["committed"]:
        return []  # check_whole judges a whole disclosure
    com = st.get("commitments")
    if not isinstance(com, dict):
        return []
    out: list[Problem] = []
    files = int(com.get("files", 0))
    size = int(com.get("leaves", 0))
    seen_files: dict[int, str] = {}
    used: set[int] = set()
    item_paths: set[str] = set()

    def account(index: Any, what: str) -> None:
        if not isinstance(index, int) or not 0 <= index < files:
            out.append(
                Problem("counts_mismatch", P.RECORD, f"{what}: {index!r} is not a file leaf")
            )
        elif index in seen_files:
            out.append(
                Problem("counts_mismatch", P.RECORD, f"file leaf {index} is accounted for twice")
            )
        else:
            seen_files[index] = what

    def leaf(index: Any, kind: str, where: str) -> L.Leaf | None:
        got = p.parsed_leaves.get(index) if isinstance(index, int) else None
        if got is None or got.kind != kind:
            out.append(
                Problem("bad_disclosure_leaves", where, f"leaf {index!r} ({kind}) is not disclosed")
            )
            return None
        used.add(index)
        return got

    archives: dict[int, tuple[int, int, str, list[int]]] = {}
    member_items: list[tuple[Any, Any, str]] = []  # (archive, member leaf, path)
    for item in rec["items"]:
        if not isinstance(item, dict) or item.get("treatment") not in P.TREATMENTS:
            out.append(Problem("bad_disclosure_record", P.RECORD, "an item is malformed"))
            continue
        path = str(item.get("path"))
        treatment = item["treatment"]
        if treatment == P.MEMBERS:
            account(item.get("file"), path)
            _archive(item, path, leaf, archives, out)
            continue
        item_paths.add(path)
        if path not in ev.payload:
            out.append(Problem("missing", path, f"disclosed {treatment} but not in the package"))
            continue
        member_of = item.get("archive")
        if member_of is not None:
            index = item.get("leaf") if treatment == P.INTACT else item.get("file")
            member_items.append((member_of, index, path))
            if treatment not in (P.INTACT, P.STRIPPED, P.REDACTED):
                out.append(
                    Problem("bad_disclosure_record", path, f"a member cannot be {treatment}")
                )
                continue
        if treatment == P.INTACT:
            if member_of is None:
                account(item.get("leaf"), path)
            fl = leaf(item.get("leaf"), L.FILE if member_of is None else L.MEMBER, path)
            if fl is not None and member_of is not None and fl.get("file") != member_of:
                out.append(Problem("swapped", path, "the member leaf is another archive's"))
            if fl is not None:
                if fl.get("path") != path:
                    out.append(
                        Problem("swapped", path, f"the committed leaf is for {fl.get('path')!r}")
                    )
                elif ev.payload[path] != fl.get("sha256"):
                    out.append(
                        Problem("changed", path, "differs from the SHA-256 committed at ingest")
                    )
            for j in item.get("fields", []):
                fld = leaf(j, L.FIELD, path)
                if fld is not None and fld.get("file") != item.get("leaf"):
                    out.append(Problem("swapped", path, f"field leaf {j} is another file's"))
            for w in item.get("withheld_fields", []):
                _withheld_leaf(w, files, size, out)
        elif treatment in (P.STRIPPED, P.REDACTED):
            if member_of is None:
                account(item.get("file"), path)
            out.extend(_check_cut(ev, item, path, leaf))
        elif treatment == P.DERIVED:
            account(item.get("file"), path)
            if ev.payload[path] != item.get("sha256"):
                out.append(
                    Problem("changed", path, "differs from the derived copy the officer signed for")
                )
        else:
            out.append(
                Problem(
                    "bad_disclosure_record", path, "a whole-file item in a committed disclosure"
                )
            )
    out.extend(_check_members(archives, member_items))
    withheld, malformed = withheld_files(rec, files)
    if malformed:
        out.append(Problem("bad_disclosure_record", P.RECORD, malformed))
    for index, _basis in withheld:
        account(index, "withheld")
        if index in p.leaves:
            out.append(
                Problem(
                    "bad_disclosure_record",
                    P.LEAVES,
                    f"leaf {index} is both withheld and disclosed",
                )
            )
    note = rec.get("note")
    if (
        isinstance(note, dict)
        and note.get("disclosed")
        and leaf(note.get("leaf"), L.NOTE, P.RECORD) is not None
        and note.get("leaf") != com.get("note_leaf")
    ):
        out.append(Problem("swapped", P.RECORD, "the note leaf is not the statement's note"))
    if len(seen_files) != files:
        out.append(
            Problem(
                "counts_mismatch",
                P.RECORD,
                f"{len(seen_files)} items disclosed or withheld, {files} committed",
            )
        )
    for path in sorted(set(ev.payload) - item_paths):
        out.append(Problem("extra", path, "in the package but not in the disclosure record"))
    for i in sorted(set(p.leaves) - used):
        out.append(
            Problem("bad_disclosure_leaves", P.LEAVES, f"leaf {i} is disclosed but no item uses it")
        )
    return out


def _archive(
    item: dict[str, Any],
    path: str,
    leaf: Callable[[Any, str, str], L.Leaf | None],
    archives: dict[int, tuple[int, int, str, list[int]]],
    out: list[Problem],
) -> None:
    """An archive disclosed as its members: its members leaf (how many, from
    which index) and the members it withholds, each an index in that range."""
    ml = leaf(item.get("members"), L.MEMBERS, path)
    if ml is None:
        return
    if ml.get("file") != item.get("file"):
        out.append(Problem("swapped", path, "the members leaf is another archive's"))
        return
    first, count = int(ml.get("first")), int(ml.get("count"))
    withheld: list[int] = []
    for w in item.get("withheld") or []:
        runs = w.get("leaves") if isinstance(w, dict) else None
        if not isinstance(runs, list) or not isinstance(w.get("basis"), str):
            out.append(Problem("bad_disclosure_record", path, "a withheld member is malformed"))
            return
        for run in runs:
            if not (
                isinstance(run, list)
                and len(run) == 2
                and all(isinstance(x, int) and not isinstance(x, bool) for x in run)
                and first <= run[0] <= run[1] < first + count
            ):
                out.append(
                    Problem(
                        "bad_disclosure_record",
                        path,
                        f"withheld run {run!r} is not a range of this archive's members",
                    )
                )
                return
            withheld.extend(range(run[0], run[1] + 1))
    archives[int(item["file"])] = (first, count, path, withheld)


def _check_members(
    archives: dict[int, tuple[int, int, str, list[int]]],
    member_items: list[tuple[Any, Any, str]],
) -> list[Problem]:
    """Every member of each archive disclosed or withheld once, and no member
    item outside an archive disclosed as its members."""
    out: list[Problem] = []
    seen: dict[int, list[int]] = {a: list(w) for a, (_, _, _, w) in archives.items()}
    for archive, index, path in member_items:
        if archive not in archives:
            out.append(
                Problem(
                    "bad_disclosure_record", path, "a member of an archive not disclosed by members"
                )
            )
            continue
        first, count, _, _ = archives[archive]
        if not isinstance(index, int) or not first <= index < first + count:
            out.append(Problem("counts_mismatch", path, "not one of its archive's members"))
            continue
        seen[archive].append(index)
    for archive, (_, count, path, _) in archives.items():
        indices = seen[archive]
        if len(set(indices)) != len(indices):
            out.append(Problem("counts_mismatch", path, "a member is accounted for twice"))
        elif len(indices) != count:
            out.append(
                Problem(
                    "counts_mismatch",
                    path,
                    f"{len(indices)} members disclosed or withheld, {count} committed",
                )
            )
    return out


def _withheld_leaf(w: Any, files: int, size: int, out: list[Problem]) -> None:
    if (
        not isinstance(w, dict)
        or not isinstance(w.get("leaf"), int)
        or not (files <= w["leaf"] < size)
    ):
        out.append(Problem("bad_disclosure_record", P.RECORD, "a withheld field is malformed"))


def _check_cut(
    ev: PackageEvidence,
    item: dict[str, Any],
    path: str,
    leaf: Callable[[Any, str, str], L.Leaf | None],
) -> list[Problem]:
    """A stripped or redacted copy: exactly its committed parts, in order, with
    only metadata parts left out (stripped) or only the redacted messages
    replaced by their marker (redacted)."""
    out: list[Problem] = []
    lay = leaf(item.get("layout"), L.LAYOUT, path)
    if lay is None:
        return out
    stripped = item["treatment"] == P.STRIPPED
    kind = "bad_stripped_copy" if stripped else "bad_redaction"
    if lay.get("file") != item.get("file"):
        return [Problem("swapped", path, "the layout leaf is another file's")]
    try:
        roles = [role for _, role in L.layout_parts(lay)]
    except L.LeafError as e:
        return [Problem(kind, path, str(e))]
    numbers = message_numbers(roles)
    redacted = item.get("redacted", []) if not stripped else []
    if not isinstance(redacted, list) or any(n not in numbers for n in redacted):
        return [Problem(kind, path, "redacts a message the chat does not have")]
    redacted_parts = {numbers[n]: n for n in redacted}
    stream = _open(ev, path)
    if stream is None:
        return [Problem("missing", path, "cannot be read")]
    with stream:
        return out + _walk_copy(stream, item, path, lay, leaf, roles, redacted_parts, kind)


def _open(ev: PackageEvidence, path: str) -> IO[bytes] | None:
    """The copy as a stream (read in pieces: flat memory for a large video)."""
    if ev.open is not None:
        return ev.open(path)
    data = ev.read(path)
    return None if data is None else io.BytesIO(data)


def _read_hashed(stream: IO[bytes], size: int) -> tuple[str, int]:
    """SHA-256 and count of the next `size` bytes (fewer at the end)."""
    h, got = hashlib.sha256(), 0
    while got < size:
        piece = stream.read(min(size - got, 1 << 20))
        if not piece:
            break
        h.update(piece)
        got += len(piece)
    return h.hexdigest(), got


def _is_free_box(stream: IO[bytes], size: int) -> bool:
    """Whether the next `size` bytes are the empty free box free_box(size) is."""
    if stream.read(8) != free_box(size)[:8]:
        return False
    left = size - 8
    while left:
        piece = stream.read(min(left, 1 << 20))
        if not piece or piece.count(0) != len(piece):
            return False
        left -= len(piece)
    return True


def _walk_copy(
    stream: IO[bytes],
    item: dict[str, Any],
    path: str,
    lay: L.Leaf,
    leaf: Callable[[Any, str, str], L.Leaf | None],
    roles: list[str],
    redacted_parts: dict[int, int],
    kind: str,
) -> list[Problem]:
    out: list[Problem] = []
    stripped = item["treatment"] == P.STRIPPED
    wanted = [
        n
        for n, role in enumerate(roles)
        if not (stripped and role == L.METADATA) and n not in redacted_parts
    ]
    parts = item.get("parts")
    if not isinstance(parts, list) or len(parts) != len(wanted):
        return [
            Problem(
                kind,
                path,
                f"{len(wanted)} parts should be disclosed, "
                f"{len(parts) if isinstance(parts, list) else 0} are",
            )
        ]
    fillers: dict[int, int] = {}
    if stripped and lay.get("format") == "isobmff":
        given = item.get("fillers")
        metadata = [n for n, role in enumerate(roles) if role == L.METADATA]
        if not isinstance(given, list) or not all(
            isinstance(f, list) and len(f) == 2 and all(isinstance(x, int) for x in f) and f[1] >= 8
            for f in given
        ):
            return [Problem(kind, path, "the free boxes that replace metadata are malformed")]
        fillers = {f[0]: f[1] for f in given}
        if sorted(fillers) != metadata:
            return [Problem(kind, path, "the free boxes are not where the metadata boxes were")]
    pos = 0
    by_n: dict[int, L.Leaf] = {}
    for j in parts:
        pl = leaf(j, L.PART, path)
        if pl is None:
            return out
        if pl.get("file") != item.get("file"):
            return [Problem("swapped", path, f"part leaf {j} is another file's")]
        by_n[int(pl.get("n"))] = pl
    if sorted(by_n) != wanted:
        return [Problem(kind, path, "the disclosed parts are not the ones this copy keeps")]
    for n, _role in enumerate(roles):
        if stripped and roles[n] == L.METADATA:
            if n in fillers:
                if not _is_free_box(stream, fillers[n]):
                    return [Problem(kind, path, f"part {n} is not replaced by an empty free box")]
                pos += fillers[n]
            continue
        if n in redacted_parts:
            marker = redaction_marker(redacted_parts[n])
            if stream.read(len(marker)) != marker:
                return [
                    Problem(
                        kind,
                        path,
                        f"message {redacted_parts[n]} is not replaced by "
                        "its marker: a message is missing, moved or forged",
                    )
                ]
            pos += len(marker)
            continue
        pl = by_n[n]
        digest, got = _read_hashed(stream, int(pl.get("size")))
        if digest != pl.get("sha256"):
            what = (
                f"part {n} ({lay.get('format')} {L.layout_parts(lay)[n][0]}) differs from the "
                "original: more than metadata was changed"
                if stripped
                else f"part {n} differs from the original: a message was changed, moved or forged"
            )
            return [Problem(kind, path, what)]
        pos += got
    _, after = _read_hashed(stream, 1 << 62)
    if after:
        return [Problem(kind, path, f"{after} bytes after the last committed part")]
    return out
