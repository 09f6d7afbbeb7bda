"""Ingest: copy an evidence folder into a new signed bundle, atomically."""

from __future__ import annotations

import contextlib
import os
import platform
import uuid
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from custody import __version__
from custody.base import faults
from custody.base.errors import CustodyError, EnvironmentFailure, InputError
from custody.base.fsutil import (
    environment_error,
    fsync_dir,
    is_within,
    rename_noreplace,
    sync_filesystem,
)
from custody.base.hashing import sha256_bytes
from custody.base.keys import Signer, fingerprint_of, public_key_file_bytes
from custody.base.models import CopiedFile, IngestResult, Problem
from custody.base.pending import PendingIngest, track
from custody.base.progress import ProgressCallback, ProgressTracker
from custody.base.signing import sign_bytes
from custody.base.utc import utc_text
from custody.bundle.format import layout
from custody.bundle.format.commitments import COMMITMENTS_PATH
from custody.bundle.format.names import NAMES, names_file_bytes
from custody.bundle.format.statement import Statement, statement_bytes
from custody.bundle.read.source import SourceDir, SourceListing, scan_source, scan_source_file
from custody.bundle.verify.check_names import check_written_names
from custody.bundle.verify.evaluate import check_fresh_bundle
from custody.bundle.write.copying import copy_all
from custody.bundle.write.journal import (
    JOURNAL_NAME,
    Journal,
    JournalHead,
    ResumePoint,
    clear_for_resume,
    reuse_copies,
    working_folder,
)
from custody.bundle.write.placement import check_label, choose_bundle_path
from custody.bundle.write.records import (
    expand_payload,
    file_records,
    write_metadata,
    write_new,
    write_stream,
)
from custody.extraction.hook import ExtractionsWritten
from custody.extraction.members import EXTRACTIONS_FIELD
from custody.io.ledger_store import Ledger
from custody.io.manifest_db import manifest_rows
from custody.io.tsa_client import request_timestamps
from custody.ledger.proof import PROOF_PATH, proof_file_bytes
from custody.ledger.rows import Appended
from custody.ops.disclosure.commit import commit_payload
from custody.ops.stamp import StoredToken, record_timestamp
from custody.tsa.attempt import GRANTED, StampAttempt

if TYPE_CHECKING:
    from custody.similar.payload import PayloadAnalysis


def ingest(
    *,
    source: Path,
    case: str,
    signing_key: Ed25519PrivateKey,
    officer: str,
    exhibit: str | None = None,
    out: Path | None = None,
    note: str | None = None,
    ledger: Ledger | None = None,
    pending: Path | None = None,
    extract_metadata: bool = True,
    expand_archives: bool = False,
    analyse_similar: bool = True,
    on_progress: ProgressCallback | None = None,
    workers: int | None = None,
    now: datetime | None = None,
    tsa_urls: Sequence[str] = (),
    tsa_timeout: float | None = None,
    on_appended: Callable[[Appended], Appended] | None = None,
    on_manifest: Callable[[str, str | None, str], dict[str, Any]] | None = None,
    resume: ResumePoint | None = None,
    keep_on_interrupt: bool = False,
) -> IngestResult:
    """Copy `source` into a new bundle, sign it, and make it visible atomically.

    Returns an IngestResult. Raises InputError (bad source, bad case id, output
    inside the source, a file that changed while read), EnvironmentFailure
    (disk full, permissions on the output). On any error nothing is left behind.

    Every image and video is analysed for `custody similar` (perceptual hashes
    in custody/similar.json, signed through the statement) unless
    `analyse_similar` or `extract_metadata` is false.

    With `expand_archives`, the members of each ZIP are also written under
    data/<archive>.expanded/ as working copies linked to their archive member.

    With a ledger, the ingest is appended to it (signed by `signing_key`) before
    the bundle becomes visible, and the bundle carries the entry's proof. With
    `pending` (a folder), the ingest is marked as under way there while it runs
    (custody.base.pending), so that a kill at any moment is found afterwards.

    With `tsa_urls`, each TSA is asked to stamp custody/statement.sig; each
    reply that answers the request is stored under custody/timestamps/ (and
    recorded in the ledger). A TSA that fails costs nothing but a warning.
    `on_appended` may replace that proof's checkpoint by a later, cosigned one.
    `on_manifest(case, exhibit, manifest_sha256)`, called once the copy is hashed
    and before anything is signed, may raise to stop the ingest (nothing is left)
    or return fields to add to the ledger entry's subject.

    Every ingest keeps a journal of its finished copies (bundle/write/journal.py).
    With `resume` (ops/resume.py found a stopped ingest of the same source, case,
    exhibit and out), the stopped ingest is continued under its bundle id, start
    time and path: its good copies are hashed again rather than copied. With
    `keep_on_interrupt`, Ctrl-C leaves the partial copy to be continued.
    """
    case = check_label(case, "case id")
    if exhibit is not None:
        exhibit = check_label(exhibit, "exhibit reference")
    created = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    if resume is not None:
        created = datetime.fromisoformat(resume.head.created.replace("Z", "+00:00"))
    src = Path(os.path.abspath(source))
    if not src.exists():
        raise InputError("no such folder", path=str(source))
    if not src.is_dir():
        if src.is_symlink():
            raise InputError("is a symbolic link to a file; give the file itself", path=str(source))
        if not src.is_file():
            raise InputError("not a folder or a regular file", path=str(source))
    src_real = src.resolve()
    bundle_path = (
        resume.bundle
        if resume is not None
        else choose_bundle_path(out=out, case=case, exhibit=exhibit, created=created)
    )
    if is_within(bundle_path.parent.resolve() / bundle_path.name, src_real):
        raise InputError(
            "the output is inside the source folder; choose another --out", path=str(bundle_path)
        )
    listing = scan_source(src) if src.is_dir() else scan_source_file(src)
    if not listing.files:
        raise InputError("no files to ingest (the folder is empty)", path=str(source))

    fingerprint = fingerprint_of(signing_key.public_key())
    tracker = ProgressTracker("copy", len(listing.files), listing.total_bytes, on_progress)
    bundle_id = resume.head.bundle_id if resume is not None else str(uuid.uuid4())
    under_way = PendingIngest(bundle_id, case, exhibit, bundle_path, utc_text(created))
    try:
        with (
            (
                track(pending, under_way) if pending is not None else contextlib.nullcontext()
            ) as marker,
            working_folder(
                bundle_path, None if resume is None else resume.partial, keep_on_interrupt
            ) as tmp,
        ):
            data_dir = tmp / layout.PAYLOAD_DIR
            copied = _copy_resumably(listing, tmp, tracker, workers, resume, under_way, src)
            tracker.finish()
            faults.reached("copied")
            origin: dict[str, dict[str, Any]] = {}
            if expand_archives:
                listing, copied, origin = expand_payload(
                    listing, copied, data_dir, manifest_rows=manifest_rows
                )
            (tmp / layout.CUSTODY_DIR).mkdir()
            # The copies come in the listing's order (sorted by UTF-8 path), so
            # the manifest streams to disk line by line, never whole in memory.
            manifest_sha256 = write_stream(
                tmp / layout.MANIFEST,
                (layout.manifest_line(f"{layout.PAYLOAD_DIR}/{c.path}", c.sha256) for c in copied),
            )
            # Before the metadata is extracted and anything is signed: a refusal
            # here leaves nothing (the temporary folder goes with the error).
            extra_subject = (
                {} if on_manifest is None else on_manifest(case, exhibit, manifest_sha256)
            )
            sidecar_digests: dict[str, str] = {}
            extracted = ExtractionsWritten(manifest_rows=manifest_rows)  # phone extractions
            metadata_sha256 = write_metadata(
                tmp / layout.METADATA,
                file_records(
                    listing, copied, data_dir, extract_metadata, sidecar_digests, origin, extracted
                ),
            )
            analyse = extract_metadata and analyse_similar
            similar = _analyse_similar(copied, data_dir, analyse, workers)
            if similar.document is not None:
                write_new(tmp / layout.SIMILAR, similar.document)
            similar_sha256 = sha256_bytes(similar.document) if similar.document else None
            total = sum(c.size for c in copied)
            # Salted commitments (custody.disclosure): the note is committed there,
            # not written in clear into the statement a disclosure hands over.
            committed = commit_payload(
                root=tmp,
                files=((f"{layout.PAYLOAD_DIR}/{c.path}", c.sha256, c.size) for c in copied),
                note=note,
            )
            bag_fields = [
                ("Source-Organization", officer),
                ("Contact-Name", officer),
                ("External-Identifier", case),
                ("Custody-Case-Id", case),
                ("Custody-Exhibit-Ref", exhibit or ""),
                ("Custody-Officer", officer),
                ("Custody-Key-Fingerprint", fingerprint),
                ("Custody-Source-Path", str(src)),
                ("Custody-Source-Host", platform.node()),
                ("Bagging-Date", created.strftime("%Y-%m-%d")),
                ("Bag-Software-Agent", f"custody {__version__}"),
                ("Payload-Oxum", f"{total}.{len(copied)}"),
            ]
            if note:
                bag_fields.append(("Internal-Sender-Description", note))
            if sidecar_digests:
                bag_fields.append((layout.C2PA_REPORTS_FIELD, str(len(sidecar_digests))))
            if extracted.digests:
                bag_fields.append((EXTRACTIONS_FIELD, str(len(extracted.digests))))
            bag_info = layout.format_bag_info(bag_fields)
            names_file = _names_file(listing)
            statement = Statement(
                bundle_id=bundle_id,
                case=case,
                exhibit=exhibit,
                officer=officer,
                key_fingerprint=fingerprint,
                created=utc_text(created),
                tool=f"custody {__version__}",
                file_count=len(copied),
                total_bytes=total,
                manifest_sha256=manifest_sha256,
                bag_info_sha256=sha256_bytes(bag_info),
                metadata_sha256=metadata_sha256,
                note=None,
                names_sha256=sha256_bytes(names_file) if names_file is not None else None,
                similar_sha256=similar_sha256,
                commitments=committed.statement_field,
            )
            stmt = statement_bytes(statement)
            tag_files = {
                layout.BAGIT_TXT: layout.BAGIT_TXT_BYTES,
                layout.BAG_INFO: bag_info,
                layout.STATEMENT: stmt,
                layout.SIGNATURE: sign_bytes(signing_key, stmt),
                layout.SIGNER_KEY: public_key_file_bytes(officer, signing_key.public_key()),
            }
            if names_file is not None:
                tag_files[NAMES] = names_file
            # Read back with the verifier's parsers before anything is signed into
            # the ledger: a name written one way and read another stops here.
            payload = {f"{layout.PAYLOAD_DIR}/{c.path}": (c.size, c.sha256) for c in copied}
            _stop_on(
                check_written_names((tmp / layout.MANIFEST).read_bytes(), names_file, payload),
                bundle_path,
            )
            if ledger is not None:
                if marker is not None:
                    marker.will_record()
                appended = ledger.append(
                    action="ingest",
                    subject={
                        "bundle_id": statement.bundle_id,
                        "case": case,
                        "exhibit": exhibit,
                        "statement_sha256": sha256_bytes(stmt),
                        "file_count": len(copied),
                        "total_bytes": total,
                        "manifest_sha256": manifest_sha256,
                        **extra_subject,
                    },
                    signer=signing_key,
                    signer_name=officer,
                    time=statement.created,
                )
                if marker is not None:
                    marker.recorded(appended.index)
                if on_appended is not None:
                    appended = on_appended(appended)
                tag_files[PROOF_PATH] = proof_file_bytes(appended)
                faults.reached("recorded")
            attempts = request_timestamps(
                tsa_urls, tag_files[layout.SIGNATURE], timeout=tsa_timeout
            )
            tokens = _timestamp_files(attempts)
            tag_files.update({t.file: t.attempt.reply or b"" for t in tokens})
            if tokens:
                (tmp / layout.TIMESTAMPS_DIR).mkdir()
            if ledger is not None:
                subject = {
                    "bundle_id": statement.bundle_id,
                    "case": case,
                    "statement_sha256": sha256_bytes(stmt),
                }
                for token in tokens:
                    record_timestamp(ledger, Signer(officer, signing_key), subject, token)
            tag_digests = {name: sha256_bytes(data) for name, data in tag_files.items()}
            tag_digests[layout.METADATA] = metadata_sha256
            tag_digests[COMMITMENTS_PATH] = committed.sha256
            tag_digests[layout.MANIFEST] = manifest_sha256
            tag_digests.update(sidecar_digests)
            tag_digests.update(extracted.digests)
            if similar_sha256 is not None:
                tag_digests[layout.SIMILAR] = similar_sha256
            tag_files[layout.TAG_MANIFEST] = layout.format_manifest(tag_digests.items())
            for name, data in tag_files.items():
                write_new(tmp / name, data)

            # What the result needs, then let the per-file lists go before the
            # check below builds its own: memory stays flat on 100,000 files.
            file_count = len(copied)
            warnings = (
                _warnings(listing)
                + tuple(extracted.warnings)
                + ((similar.warning,) if similar.warning else ())
            )
            skipped, dirs = listing.skipped, listing.dirs
            del copied, listing, tag_files
            (tmp / JOURNAL_NAME).unlink()  # never part of a bundle
            _stop_on(check_fresh_bundle(tmp, payload, signing_key.public_key()), bundle_path)
            del payload
            os.chmod(tmp, 0o755)  # mkdtemp's 0700 would hide the bundle from colleagues
            _restore_dir_times(data_dir, dirs)
            sync_filesystem(tmp)  # every file and folder of the bundle, in one flush
            faults.reached("written")
            try:
                rename_noreplace(tmp, bundle_path)
            except FileExistsError as e:
                raise InputError(
                    "already exists; nothing was replaced", path=str(bundle_path)
                ) from e
            fsync_dir(bundle_path.parent)
            faults.reached("renamed")
    except CustodyError:
        raise
    except OSError as e:
        raise environment_error(e, e.filename or bundle_path) from e

    return IngestResult(
        bundle=str(bundle_path),
        bundle_id=statement.bundle_id,
        statement_sha256=sha256_bytes(stmt),
        case=case,
        exhibit=exhibit,
        officer=officer,
        fingerprint=fingerprint,
        files=file_count,
        bytes=total,
        skipped=skipped,
        warnings=warnings + tuple(a.warning() for a in attempts if a.status != GRANTED),
        timestamps=tuple(
            {**a.to_json(), "file": next((t.file for t in tokens if t.attempt is a), None)}
            for a in attempts
        ),
    )


def _copy_resumably(
    listing: SourceListing,
    tmp: Path,
    tracker: ProgressTracker,
    workers: int | None,
    resume: ResumePoint | None,
    under_way: PendingIngest,
    src: Path,
) -> list[CopiedFile]:
    """The copies, journalled; when resuming, the good ones of the stopped ingest
    checked and kept, and only the rest copied (in the listing's order)."""
    data_dir = tmp / layout.PAYLOAD_DIR
    reused: dict[str, CopiedFile] = {}
    if resume is None:
        data_dir.mkdir()
        head: JournalHead | None = JournalHead(
            under_way.bundle_id, under_way.case, under_way.exhibit, str(src), under_way.started
        )
    else:
        clear_for_resume(tmp)
        data_dir.mkdir(exist_ok=True)
        reused = reuse_copies(listing, data_dir, resume.entries, tracker)
        head = None
    for d in listing.dirs:
        (data_dir / d.rel).mkdir(exist_ok=resume is not None)
    journal = Journal(tmp / JOURNAL_NAME, head)
    try:
        rest = replace(listing, files=tuple(f for f in listing.files if f.rel not in reused))
        fresh = iter(copy_all(rest, data_dir, tracker, workers, journal.copied))
    finally:
        journal.close()
    return [reused[f.rel] if f.rel in reused else next(fresh) for f in listing.files]


def _analyse_similar(
    copied: list[CopiedFile], data_dir: Path, enabled: bool, workers: int | None
) -> PayloadAnalysis:
    from custody.similar.payload import PayloadFile, analyse_payload

    files = [PayloadFile(c.path, c.sha256, c.mime) for c in copied]
    return analyse_payload(files, data_dir, enabled=enabled, workers=workers)


def _stop_on(problems: list[Problem], bundle_path: Path) -> None:
    if problems:
        raise EnvironmentFailure(
            "the new bundle failed its own check: " + "; ".join(p.line() for p in problems),
            path=str(bundle_path),
        )


def _timestamp_files(attempts: tuple[StampAttempt, ...]) -> list[StoredToken]:
    granted = [a for a in attempts if a.status == GRANTED and a.reply is not None]
    return [
        StoredToken(layout.timestamp_path(i), sha256_bytes(a.reply or b""), a)
        for i, a in enumerate(granted, start=1)
    ]


def _names_file(listing: SourceListing) -> bytes | None:
    """custody/names.json when a file is stored under a name other than its own."""
    originals = {
        f"{layout.PAYLOAD_DIR}/{f.rel}": f.original for f in listing.files if f.original is not None
    }
    return names_file_bytes(originals) if originals else None


def _warnings(listing: SourceListing) -> tuple[str, ...]:
    return tuple(
        f"{a!r} and {b!r} differ only by Unicode normalisation: both are kept, but "
        "macOS and bagit-python treat them as one name"
        for a, b in listing.normalisation_twins()
    ) + tuple(
        f"{f.original!r} is not a {_unportable(f.original)} name: stored as {f.rel!r}; "
        f"the original bytes are kept in {NAMES}"
        for f in listing.files
        if f.original is not None
    )


def _unportable(name: bytes) -> str:
    try:
        name.decode("utf-8")
    except UnicodeDecodeError:
        return "UTF-8"
    return "portable"


def _restore_dir_times(data_dir: Path, dirs: tuple[SourceDir, ...]) -> None:
    # Deepest first, so setting a child's times does not disturb its parent's.
    for d in sorted(dirs, key=lambda d: d.rel.count("/"), reverse=True):
        os.utime(data_dir / d.rel, ns=(d.atime_ns, d.mtime_ns), follow_symlinks=False)
