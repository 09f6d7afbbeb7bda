"""The disclosed items of a package against their leaves: each file intact,
stripped, redacted or derived as the record says, and the items and withheld
files adding up to the committed count. Pure; see checks.py for the rest."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

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

    for item in rec["items"]:
        if not isinstance(item, dict) or item.get("treatment") not in P.TREATMENTS:
            out.append(Problem("bad_disclosure_record", P.RECORD, "an item is malformed"))
            continue
        path = str(item.get("path"))
        item_paths.add(path)
        treatment = item["treatment"]
        if path not in ev.payload:
            out.append(Problem("missing", path, f"disclosed {treatment} but not in the package"))
            continue
        if treatment == P.INTACT:
            account(item.get("leaf"), path)
            fl = leaf(item.get("leaf"), L.FILE, path)
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
    data = ev.read(path)
    if data is None:
        return [Problem("missing", path, "cannot be read")]
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
                if data[pos : pos + fillers[n]] != free_box(fillers[n]):
                    return [Problem(kind, path, f"part {n} is not replaced by an empty free box")]
                pos += fillers[n]
            continue
        if n in redacted_parts:
            marker = redaction_marker(redacted_parts[n])
            if data[pos : pos + len(marker)] != marker:
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
        chunk = data[pos : pos + int(pl.get("size"))]
        if hashlib.sha256(chunk).hexdigest() != pl.get("sha256"):
            what = (
                f"part {n} ({lay.get('format')} {L.layout_parts(lay)[n][0]}) differs from the "
                "original: more than metadata was changed"
                if stripped
                else f"part {n} differs from the original: a message was changed, moved or forged"
            )
            return [Problem(kind, path, what)]
        pos += len(chunk)
    if pos != len(data):
        return [Problem(kind, path, f"{len(data) - pos} bytes after the last committed part")]
    return out
