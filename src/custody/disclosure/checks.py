"""The checks of a disclosure package: pure functions of what was read from
it (PackageEvidence) and the verifier's trust policy, each returning its
findings. `verify.py` reads the package and runs them in order."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..bundle import layout
from ..bundle.statement import StatementError, parse_statement
from ..errors import KeyFileError
from ..hashing import sha256_bytes
from ..keys import PublicKeyInfo, fingerprint_of, parse_public_key_file
from ..models import Problem
from ..policy import TrustPolicy
from ..signing import signature_is_valid
from . import leaves as L
from . import package as P
from .parts import free_box, message_numbers, redaction_marker
from .tree import proves


@dataclass(frozen=True)
class PackageEvidence:
    """Everything read from a package, before anything is judged."""

    statement_bytes: bytes | None
    record_bytes: bytes | None
    record_sig: bytes | None
    discloser_key: bytes | None
    leaves_bytes: bytes | None
    manifest_bytes: bytes | None
    ledger_proof: bytes | None
    payload: dict[str, str | None]
    """{path under data/: SHA-256} as hashed from the package."""
    read: Callable[[str], bytes | None]
    """A file of the package by path (the disclosed copies, for part checks)."""


@dataclass(frozen=True)
class Parsed:
    """The statement, record and leaves once read (None where unreadable)."""

    statement: dict[str, Any] | None
    record: dict[str, Any] | None
    leaves: dict[int, P.DisclosedLeaf]
    parsed_leaves: dict[int, L.Leaf]


def parse_evidence(ev: PackageEvidence) -> tuple[Parsed, list[Problem]]:
    """Read the statement, the record and the leaves; problems for what cannot be read."""
    problems: list[Problem] = []
    statement = record = None
    if ev.statement_bytes is not None:
        try:
            statement = parse_statement(ev.statement_bytes)
        except StatementError as e:
            problems.append(Problem("bad_statement", layout.STATEMENT, str(e)))
    if ev.record_bytes is None:
        problems.append(Problem("missing", P.RECORD, "the disclosure record is missing"))
    else:
        try:
            record = P.parse_record(ev.record_bytes)
        except P.PackageError as e:
            problems.append(Problem("bad_disclosure_record", P.RECORD, str(e)))
    leaves: dict[int, P.DisclosedLeaf] = {}
    parsed: dict[int, L.Leaf] = {}
    if ev.leaves_bytes is not None:
        try:
            leaves = P.parse_leaves(ev.leaves_bytes)
        except P.PackageError as e:
            problems.append(Problem("bad_disclosure_leaves", P.LEAVES, str(e)))
        for i, d in leaves.items():
            try:
                parsed[i] = L.parse_leaf(d.leaf)
            except L.LeafError as e:
                problems.append(Problem("bad_disclosure_leaves", P.LEAVES, f"leaf {i}: {e}"))
    return Parsed(statement, record, leaves, parsed), problems


def check_record_binding(ev: PackageEvidence, p: Parsed) -> list[Problem]:
    """The record is about this statement and exactly this package's files."""
    rec, st = p.record, p.statement
    if rec is None or st is None or ev.statement_bytes is None:
        return []
    out = []
    other = "the disclosure record is from another package"
    if rec["statement_sha256"] != sha256_bytes(ev.statement_bytes) or rec["bundle_id"] != st.get(
        "bundle_id"
    ):
        out.append(Problem("disclosure_mismatch", P.RECORD, f"{other}: it names another bundle"))
    if ev.manifest_bytes is not None and rec["manifest_sha256"] != sha256_bytes(ev.manifest_bytes):
        out.append(
            Problem("disclosure_mismatch", layout.MANIFEST, f"{other}: it lists other files")
        )
    leaves_sha = sha256_bytes(ev.leaves_bytes) if ev.leaves_bytes is not None else None
    if rec.get("leaves_sha256") != leaves_sha:
        out.append(Problem("disclosure_mismatch", P.LEAVES, f"{other}: it discloses other leaves"))
    if bool(rec["committed"]) != isinstance(st.get("commitments"), dict):
        out.append(
            Problem(
                "disclosure_mismatch",
                P.RECORD,
                "the record and the statement disagree on whether the bundle has commitments",
            )
        )
    return out


def check_record_signature(
    ev: PackageEvidence, p: Parsed, policy: TrustPolicy
) -> tuple[list[Problem], dict[str, Any]]:
    """The record's signature, by a key the verifier trusts."""
    rec = p.record
    info: dict[str, Any] = {
        "name": None,
        "fingerprint": None,
        "trusted": False,
        "signature_valid": False,
    }
    if rec is None:
        return [], info
    claimed = rec["key_fingerprint"]
    info.update(name=rec["officer"], fingerprint=claimed)
    if ev.record_sig is None:
        return [Problem("missing", P.RECORD_SIG, "the record's signature is missing")], info
    key: PublicKeyInfo | None = policy.key_for(claimed)
    bundled = None
    if ev.discloser_key is not None:
        try:
            bundled = parse_public_key_file(ev.discloser_key).public_key
        except KeyFileError as e:
            return [Problem("bad_signer_key", P.DISCLOSER_KEY, e.message)], info
    named = bundled is not None and fingerprint_of(bundled) == claimed
    if key is None and claimed in policy.fingerprints and bundled is not None and named:
        key = PublicKeyInfo(f"fingerprint {claimed[:16]}", claimed, bundled)
    assert ev.record_bytes is not None
    if key is not None:
        valid = signature_is_valid(key.public_key, ev.record_sig, ev.record_bytes)
        info.update(trusted=True, signature_valid=valid, trusted_as=key.name)
        if not valid:
            return [
                Problem(
                    "bad_disclosure_signature",
                    P.RECORD_SIG,
                    f"does not verify with trusted key {key.name}",
                )
            ], info
        return [], info
    valid = (
        bundled is not None
        and fingerprint_of(bundled) == claimed
        and signature_is_valid(bundled, ev.record_sig, ev.record_bytes)
    )
    info["signature_valid"] = valid
    out = []
    if not valid:
        out.append(
            Problem(
                "bad_disclosure_signature",
                P.RECORD_SIG,
                "does not verify with the key the record names",
            )
        )
    out.append(
        Problem(
            "untrusted_discloser",
            P.RECORD,
            f"disclosure signed by key {claimed} ({rec['officer']}), which is not in "
            "your trust store or --trust",
        )
    )
    return out, info


def check_proofs(p: Parsed) -> list[Problem]:
    """Every disclosed leaf leads to the root the original statement signed."""
    st = p.statement
    com = st.get("commitments") if st else None
    if not isinstance(com, dict):
        if p.leaves:
            return [Problem("bad_proof", P.LEAVES, "the bundle committed to nothing")]
        return []
    try:
        root = bytes.fromhex(str(com["root"]))
        size = int(com["leaves"])
    except (KeyError, ValueError, TypeError):
        return [Problem("bad_statement", layout.STATEMENT, "commitments are malformed")]
    out = []
    for i, d in sorted(p.leaves.items()):
        if not proves(d.leaf, i, size, d.proof, root):
            out.append(
                Problem(
                    "bad_proof",
                    P.LEAVES,
                    f"leaf {i} does not lead to the signed root: not committed "
                    "at ingest (a guessed or altered item)",
                )
            )
    return out


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


def withheld_files(rec: dict[str, Any], files: int) -> tuple[list[tuple[int, str]], str | None]:
    """(file leaf index, basis) of every withheld file in the record's runs, and
    what is malformed (a run outside the file leaves is never expanded)."""
    out: list[tuple[int, str]] = []
    for w in rec.get("withheld", []):
        runs = w.get("leaves") if isinstance(w, dict) else None
        if not isinstance(runs, list) or not isinstance(w.get("basis"), str):
            return out, "a withheld entry is malformed"
        for run in runs:
            ok = (
                isinstance(run, list)
                and len(run) == 2
                and all(isinstance(x, int) and not isinstance(x, bool) for x in run)
                and 0 <= run[0] <= run[1] < max(files, 1)
            )
            if not ok:
                return out, f"withheld run {run!r} is not a range of file leaves"
            out.extend((i, w["basis"]) for i in range(run[0], run[1] + 1))
    return out, None


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


def check_whole(ev: PackageEvidence, p: Parsed, original: dict[str, bytes | None]) -> list[Problem]:
    """A whole disclosure of a bundle made before commitments: the original
    manifest, bag-info and metadata against the statement, every file against
    the original manifest, and nothing left out."""
    rec, st = p.record, p.statement
    if rec is None or st is None or rec["committed"]:
        return []
    out = []
    names = {
        "manifest-sha256.txt": "manifest_sha256",
        "bag-info.txt": "bag_info_sha256",
        "metadata.json": "metadata_sha256",
    }
    if "names_sha256" in st:
        names["names.json"] = "names_sha256"
    for name, field in names.items():
        data = original.get(name)
        where = f"{P.ORIGINAL_DIR}/{name}"
        if data is None:
            out.append(Problem("missing", where, "the original tag file is missing"))
        elif sha256_bytes(data) != st[field]:
            out.append(
                Problem(
                    "statement_mismatch", where, "differs from the version the statement signed"
                )
            )
    manifest_bytes = original.get("manifest-sha256.txt")
    if manifest_bytes is None:
        return out
    manifest, _ = layout.parse_manifest(manifest_bytes)
    for path, digest in manifest.items():
        got = ev.payload.get(path)
        if got is None:
            out.append(
                Problem(
                    "missing",
                    path,
                    "signed in the original manifest, not in the "
                    "package (a whole disclosure leaves nothing out)",
                )
            )
        elif got != digest:
            out.append(Problem("changed", path, "differs from the original manifest"))
    for path in sorted(set(ev.payload) - set(manifest)):
        out.append(Problem("extra", path, "not in the original manifest"))
    return out


def summarise(p: Parsed) -> dict[str, Any]:
    """The `disclosure` object of the report: what the record says was done."""
    rec, st = p.record or {}, p.statement or {}
    com = st.get("commitments") if isinstance(st.get("commitments"), dict) else {}
    items = [i for i in rec.get("items", []) if isinstance(i, dict)]
    by_basis: dict[str, int] = {}
    for _index, b in withheld_files(rec, int(com.get("files", 0)) if com else 0)[0]:
        by_basis[b] = by_basis.get(b, 0) + 1
    note = rec.get("note")
    return {
        "committed": int(com.get("files", 0)) if com else len(items),
        "whole": not rec.get("committed", True),
        "disclosed": sum(1 for i in items if i.get("treatment") in (P.INTACT, P.WHOLE)),
        "stripped": sum(1 for i in items if i.get("treatment") == P.STRIPPED),
        "messages_redacted": [
            {
                "path": i.get("path"),
                "redacted": len(i.get("redacted", [])),
                "of": i.get("messages"),
                "basis": i.get("basis"),
            }
            for i in items
            if i.get("treatment") == P.REDACTED
        ],
        "derived": [
            {
                "path": i.get("path"),
                "method": i.get("method"),
                "basis": i.get("basis"),
                "attested_by": rec.get("officer"),
            }
            for i in items
            if i.get("treatment") == P.DERIVED
        ],
        "withheld": sum(by_basis.values()),
        "withheld_by_basis": by_basis,
        "withheld_fields": sum(len(i.get("withheld_fields", [])) for i in items),
        "note": "disclosed"
        if isinstance(note, dict) and note.get("disclosed")
        else ("withheld" if isinstance(note, dict) else "none"),
        "to": rec.get("to"),
        "disclosed_by": rec.get("officer"),
        "disclosure_id": rec.get("disclosure_id"),
        "created": rec.get("created"),
        "supplement_to": rec.get("supplement_to"),
    }


def sentence(summary: dict[str, Any]) -> str:
    """'47 committed: 12 disclosed intact, ... 30 withheld under 81(4)'."""
    if summary.get("whole"):
        return (
            f"{summary['disclosed']} files disclosed whole (the bundle was made before "
            "commitments existed: nothing could be withheld)"
        )
    parts = []
    if summary["disclosed"]:
        parts.append(f"{summary['disclosed']} disclosed intact")
    if summary["stripped"]:
        parts.append(f"{summary['stripped']} with metadata stripped (proven)")
    for r in summary["messages_redacted"]:
        parts.append(f"1 chat with {r['redacted']} of {r['of']} messages redacted (proven)")
    for d in summary["derived"]:
        parts.append(f"1 derived by {d['method']} (attested by {d['attested_by']})")
    for basis, n in sorted(summary["withheld_by_basis"].items()):
        parts.append(f"{n} withheld under {basis}")
    return f"{summary['committed']} committed: " + ", ".join(parts or ["nothing disclosed"])
