"""The checks of a disclosure package: pure functions of what was read from
it (PackageEvidence) and the verifier's trust policy, each returning its
findings. `verify.py` reads the package and runs them in order."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any

from custody.base.errors import KeyFileError
from custody.base.hashing import sha256_bytes
from custody.base.keys import PublicKeyInfo, fingerprint_of, parse_public_key_file
from custody.base.models import Problem
from custody.base.signing import signature_is_valid
from custody.bundle.format import commitments as L
from custody.bundle.format import layout
from custody.bundle.format.commitment_tree import proves
from custody.bundle.format.statement import StatementError, parse_statement
from custody.disclosure import package as P
from custody.policy import TrustPolicy


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
    open: Callable[[str], IO[bytes] | None] | None = None
    """The same as a stream, where the package can give one (a folder, a zip):
    a stripped or redacted copy is then checked in pieces, in flat memory."""


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
