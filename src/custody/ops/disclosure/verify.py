"""custody verify PACKAGE: read a disclosure package (folder or zip) and judge
it with the bag checks, the original statement's signature and the package
checks of checks.py. Never raises for a bad package."""

from __future__ import annotations

import base64
import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from custody import __version__
from custody.base.archive_names import ARCHIVE_ERRORS
from custody.base.hashing import sha256_bytes
from custody.base.models import Problem, SignerInfo
from custody.base.progress import ProgressCallback
from custody.base.signing import signature_is_valid
from custody.bundle.format import layout
from custody.bundle.read.reader import scan_bundle
from custody.bundle.read.scan import BundleScan
from custody.bundle.verify.check_payload import (
    check_bagit_txt,
    check_oxum,
    check_payload,
    check_tag_manifest,
)
from custody.bundle.verify.check_register import judge_signer
from custody.bundle.verify.check_statement import check_signature
from custody.disclosure import checks
from custody.disclosure import package as P
from custody.disclosure.check_items import check_items
from custody.disclosure.check_time import check_disclosure_time
from custody.disclosure.summary import sentence, summarise
from custody.policy import TrustPolicy
from custody.tlog import merkle
from custody.tlog.entries import EntryError, parse_entry
from custody.tlog.note import NoteError, checkpoint_signed_by, parse_checkpoint


def is_package(path: Path) -> bool:
    """Whether `path` is a disclosure package (a folder or a zip of one)."""
    if path.is_dir():
        return (path / P.RECORD).is_file()
    if not path.is_file():
        return False
    try:
        # Only a name is looked for here; scan_bundle applies every archive rule.
        with zipfile.ZipFile(path) as zf:
            return any(n == P.RECORD or n.endswith("/" + P.RECORD) for n in zf.namelist())
    except ARCHIVE_ERRORS:
        return False


@dataclass(frozen=True)
class PackageReport:
    package: str
    verified: bool
    problems: tuple[Problem, ...]
    signer: SignerInfo
    discloser: dict[str, Any]
    disclosure: dict[str, Any]
    sentence: str
    statement: dict[str, Any] | None
    ledger: dict[str, Any] | None
    verified_at: str
    time: dict[str, Any] = field(default_factory=dict)
    """timestamps, disclosed_no_later_than(_tsa): the record's trusted time."""
    tool: str = field(default=f"custody {__version__}")

    def to_json(self) -> dict[str, Any]:
        st = self.statement or {}
        return {
            "package": self.package,
            "verified": self.verified,
            "verified_at": self.verified_at,
            "verified_with": self.tool,
            "kind": "disclosure",
            "bundle_id": st.get("bundle_id"),
            "case": st.get("case"),
            "exhibit": st.get("exhibit"),
            "officer": st.get("officer"),
            "created": st.get("created"),
            "signer": self.signer.to_json(),
            "discloser": self.discloser,
            "disclosure": self.disclosure,
            "summary": self.sentence,
            "ledger": self.ledger,
            "timestamps": self.time.get("timestamps", []),
            "disclosed_no_later_than": self.time.get("disclosed_no_later_than"),
            "problems": [p.to_json() for p in self.problems],
        }


def verify_package(
    *,
    package: Path,
    policy: TrustPolicy,
    on_progress: ProgressCallback | None = None,
    now: datetime | None = None,
) -> PackageReport:
    """Check a disclosure package against the verifier's trust policy. Raises
    NotABundleError / InputError only when `package` cannot be read at all."""
    scan = scan_bundle(package, on_progress=on_progress)
    return evaluate_package(scan, policy, now=now)


def evaluate_package(
    scan: BundleScan, policy: TrustPolicy, *, now: datetime | None = None
) -> PackageReport:
    now = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    problems: list[Problem] = list(scan.problems)
    check_bagit_txt(scan, problems)
    manifest_bytes = scan.tag_bytes.get(layout.MANIFEST)
    manifest: dict[str, str] = {}
    if manifest_bytes is not None:
        manifest, errors = layout.parse_manifest(manifest_bytes)
        problems.extend(Problem("bad_manifest", layout.MANIFEST, e.detail) for e in errors)
    check_payload(scan, manifest, problems)
    bag_info_bytes = scan.tag_bytes.get(layout.BAG_INFO)
    if bag_info_bytes is not None:
        check_oxum(scan, dict(layout.parse_bag_info(bag_info_bytes)), problems)
    tag_problems: list[Problem] = []
    check_tag_manifest(scan, tag_problems)
    # A package is not a bundle: it carries no metadata.json of its own.
    problems.extend(p for p in tag_problems if p.path != layout.METADATA)
    ev = checks.PackageEvidence(
        statement_bytes=scan.tag_bytes.get(layout.STATEMENT),
        record_bytes=scan.tag_bytes.get(P.RECORD),
        record_sig=scan.tag_bytes.get(P.RECORD_SIG),
        discloser_key=scan.tag_bytes.get(P.DISCLOSER_KEY),
        leaves_bytes=scan.tag_bytes.get(P.LEAVES),
        manifest_bytes=manifest_bytes,
        ledger_proof=scan.tag_bytes.get(P.LEDGER_PROOF),
        payload={p: f.sha256 for p, f in scan.files.items() if not layout.is_tag_path(p)},
        read=scan.read_tag,
        open=_opener(scan),
    )
    parsed, found = checks.parse_evidence(ev)
    problems.extend(found)
    judgement = judge_signer(policy, parsed.statement, proven=None, now=now)
    signer, _key = check_signature(
        scan, parsed.statement, ev.statement_bytes, policy, problems, judgement
    )
    problems.extend(checks.check_record_binding(ev, parsed))
    found, discloser = checks.check_record_signature(ev, parsed, policy)
    problems.extend(found)
    problems.extend(checks.check_proofs(parsed))
    problems.extend(check_items(ev, parsed))
    original = {
        name: scan.read_tag(f"{P.ORIGINAL_DIR}/{name}")
        for name in ("manifest-sha256.txt", "bag-info.txt", "metadata.json", "names.json")
    }
    problems.extend(checks.check_whole(ev, parsed, original))
    ledger, found = check_disclosure_ledger(ev, parsed)
    problems.extend(found)
    tokens = {p: b for p, b in scan.tag_bytes.items() if p.startswith(P.TIMESTAMPS_DIR + "/")}
    found, time_fields = check_disclosure_time(tokens, ev.record_sig, policy)
    problems.extend(found)
    summary = summarise(parsed)
    return PackageReport(
        package=scan.location,
        verified=not problems,
        problems=tuple(dict.fromkeys(problems)),
        signer=signer,
        discloser=discloser,
        disclosure=summary,
        sentence=sentence(summary),
        statement=parsed.statement,
        ledger=ledger,
        verified_at=now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        time=time_fields,
    )


def _opener(scan: BundleScan) -> Callable[[str], IO[bytes] | None] | None:
    """Streams of a package's files, for a folder or a zip on this file system
    (None elsewhere: the checks then read a file whole)."""
    location = Path(scan.location)
    if scan.fetch is not None:
        return None
    if location.is_dir():

        def open_file(rel: str) -> IO[bytes] | None:
            full = location / (scan.root_prefix + rel)
            if rel not in scan.files or full.is_symlink() or not full.is_file():
                return None
            try:
                return open(full, "rb")
            except OSError:
                return None

        return open_file
    if zipfile.is_zipfile(location):

        def open_member(rel: str) -> IO[bytes] | None:
            if rel not in scan.files:
                return None
            from custody.ops.disclosure.zipfiles import open_zip_member

            try:
                return open_zip_member(location, scan.root_prefix + rel)
            except (OSError, *ARCHIVE_ERRORS):
                return None

        return open_member
    return None


def check_disclosure_ledger(
    ev: checks.PackageEvidence, p: checks.Parsed
) -> tuple[dict[str, Any] | None, list[Problem]]:
    """The ledger entry of this disclosure: signed by the discloser, naming
    this record, included in a checkpoint the discloser signed."""
    if ev.ledger_proof is None or p.record is None or ev.record_bytes is None:
        return None, []

    def bad(detail: str) -> tuple[None, list[Problem]]:
        return None, [Problem("bad_ledger_proof", P.LEDGER_PROOF, detail)]

    try:
        doc = json.loads(ev.ledger_proof.decode("utf-8"))
        entry = str(doc["entry"]).encode("utf-8")
        signature = base64.b64decode(doc["signature"], validate=True)
        index, size = int(doc["leaf_index"]), int(doc["tree_size"])
        path = [base64.b64decode(h, validate=True) for h in doc["inclusion_proof"]]
        note = str(doc["checkpoint"]).encode("utf-8")
        parsed = parse_entry(entry)
        cp = parse_checkpoint(note)
    except (KeyError, TypeError, ValueError, EntryError, NoteError) as e:
        return bad(f"malformed proof ({e.__class__.__name__})")
    if parsed.action != "disclose":
        return bad(f"the ledger entry records '{parsed.action}', not a disclosure")
    if parsed.subject.get("record_sha256") != sha256_bytes(ev.record_bytes):
        return bad("the ledger entry is for another disclosure record")
    if not signature_is_valid(parsed.actor_key, signature, entry):
        return bad("the ledger entry's signature does not verify")
    from custody.base.keys import fingerprint_of

    if fingerprint_of(parsed.actor_key) != p.record["key_fingerprint"]:
        return bad("the ledger entry was not made by the disclosing officer")
    if not checkpoint_signed_by(cp, parsed.actor_key):
        return bad("the checkpoint is not signed by the disclosing officer")
    if cp.size != size or not merkle.verify_inclusion(
        merkle.leaf_hash(entry), index, size, path, cp.root
    ):
        return bad(f"inclusion proof does not lead to the checkpoint (entry {index} of {size})")
    return {"leaf_index": index, "tree_size": size, "origin": cp.origin, "proof_valid": True}, []
