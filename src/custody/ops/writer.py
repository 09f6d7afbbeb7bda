"""Ingest: copy an evidence folder into a new signed bundle, atomically."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

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
from custody.base.models import IngestResult, Problem
from custody.base.pending import PendingIngest, track
from custody.base.progress import ProgressCallback, ProgressTracker, counted
from custody.base.signing import sign_bytes
from custody.base.utc import utc_text
from custody.bundle.format import layout
from custody.bundle.format.commitments import COMMITMENTS_PATH
from custody.bundle.format.names import NAMES
from custody.bundle.format.statement import statement_bytes
from custody.bundle.read.source import scan_source_file
from custody.bundle.verify.check_names import check_written_names
from custody.bundle.verify.evaluate import check_fresh_bundle
from custody.bundle.write.journal import (
    JOURNAL_NAME,
    JournalHead,
    ResumePoint,
    disk_full,
    journal_resumes,
    working_folder,
)
from custody.bundle.write.listing import spill_listing
from custody.bundle.write.placement import check_label, choose_bundle_path
from custody.bundle.write.records import (
    file_records,
    write_metadata,
    write_new,
    write_stream,
)
from custody.bundle.write.spill import PrefixedView
from custody.extraction.hook import ExtractionsWritten
from custody.io.ledger_store import Ledger
from custody.io.manifest_db import manifest_rows
from custody.io.tsa_client import request_timestamps
from custody.ledger.proof import PROOF_PATH, proof_file_bytes
from custody.ledger.rows import Appended
from custody.ops.disclosure.commit import commit_payload
from custody.ops.ingest_payload import analyse_media, expand_spilled
from custody.ops.ingest_tags import (
    bag_info_bytes,
    name_warnings,
    names_file,
    new_statement,
    restore_dir_times,
    timestamp_files,
)
from custody.ops.resume import copy_resumably
from custody.ops.stamp import record_timestamp
from custody.tsa.attempt import GRANTED

if TYPE_CHECKING:
    pass


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
    started = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    created = started
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
    single = None if src.is_dir() else scan_source_file(src)

    fingerprint = fingerprint_of(signing_key.public_key())
    bundle_id = resume.head.bundle_id if resume is not None else str(uuid.uuid4())
    under_way = PendingIngest(bundle_id, case, exhibit, bundle_path, utc_text(created))
    building: Path | None = None
    recording = False
    try:
        with (
            (
                track(pending, under_way) if pending is not None else contextlib.nullcontext()
            ) as marker,
            working_folder(
                bundle_path, None if resume is None else resume.partial, keep_on_interrupt
            ) as tmp,
        ):
            building = tmp
            data_dir = tmp / layout.PAYLOAD_DIR
            # The listing and every per-file record go to anonymous files in the
            # working folder (bundle/write/spill.py): memory stays flat at any count.
            listing = spill_listing(src, tmp, single)
            if not listing.file_count:
                raise InputError("no files to ingest (the folder is empty)", path=str(source))
            tracker = ProgressTracker("copy", listing.file_count, listing.total_bytes, on_progress)
            copied = copy_resumably(
                listing=listing,
                tmp=tmp,
                tracker=tracker,
                workers=workers,
                resume=resume,
                head=JournalHead(bundle_id, case, exhibit, str(src), under_way.started),
                resumed_at=utc_text(started),
            )
            resumed = () if resume is None else tuple(journal_resumes(resume.journal))
            tracker.finish()
            faults.reached("copied")
            origin: dict[str, dict[str, Any]] = {}
            if expand_archives:
                listing, copied, origin = expand_spilled(listing, copied, data_dir)
            (tmp / layout.CUSTODY_DIR).mkdir()
            # The copies come in the listing's order (sorted by UTF-8 path), so
            # the manifest streams to disk line by line, never whole in memory.
            count, total = len(copied), 0

            def manifest_lines() -> Iterator[bytes]:
                nonlocal total
                for rel, (size, sha256, _) in copied.items_in_order():
                    total += size
                    yield layout.manifest_line(f"{layout.PAYLOAD_DIR}/{rel}", sha256)

            manifest_sha256 = write_stream(tmp / layout.MANIFEST, manifest_lines())
            # Before the metadata is extracted and anything is signed: a refusal
            # here leaves nothing (the temporary folder goes with the error).
            extra_subject = (
                {} if on_manifest is None else on_manifest(case, exhibit, manifest_sha256)
            )
            sidecar_digests: dict[str, str] = {}
            extracted = ExtractionsWritten(manifest_rows=manifest_rows)  # phone extractions
            # Metadata is the long phase after the copy: it has its own progress.
            metadata_sha256 = write_metadata(
                tmp / layout.METADATA,
                counted(
                    file_records(
                        listing,
                        copied,
                        data_dir,
                        extract_metadata,
                        sidecar_digests,
                        origin,
                        extracted,
                    ),
                    ProgressTracker("metadata", count, listing.total_bytes, on_progress),
                    lambda record: int(record.get("size") or 0),
                ),
            )
            analyse = extract_metadata and analyse_similar
            similar = analyse_media(copied, data_dir, analyse, workers)
            if similar.document is not None:
                write_new(tmp / layout.SIMILAR, similar.document)
            similar_sha256 = sha256_bytes(similar.document) if similar.document else None
            # Salted commitments (custody.disclosure): the note is committed there,
            # not written in clear into the statement a disclosure hands over.
            committed = commit_payload(
                root=tmp,
                files=(
                    (f"{layout.PAYLOAD_DIR}/{rel}", sha256, size)
                    for rel, (size, sha256, _) in copied.items_in_order()
                ),
                note=note,
            )
            bag_info = bag_info_bytes(
                officer=officer,
                case=case,
                exhibit=exhibit,
                fingerprint=fingerprint,
                src=src,
                created=created,
                total=total,
                count=count,
                note=note,
                c2pa_reports=len(sidecar_digests),
                extractions=len(extracted.digests),
            )
            names = names_file(listing)
            statement = new_statement(
                bundle_id=bundle_id,
                case=case,
                exhibit=exhibit,
                officer=officer,
                fingerprint=fingerprint,
                created=created,
                count=count,
                total=total,
                manifest_sha256=manifest_sha256,
                bag_info=bag_info,
                metadata_sha256=metadata_sha256,
                names_file=names,
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
            if names is not None:
                tag_files[NAMES] = names
            # Read back with the verifier's parsers before anything is signed into
            # the ledger: a name written one way and read another stops here.
            payload = PrefixedView(copied, f"{layout.PAYLOAD_DIR}/")
            _stop_on(check_written_names(tmp / layout.MANIFEST, names, payload), bundle_path)
            if ledger is not None:
                recording = True
                if marker is not None:
                    marker.will_record()
                # A resumed ingest keeps its first start as its time (the bundle's
                # and the statement's) and says when it was continued (ADR 0024).
                resumes = {"resumed": list(resumed)} if resumed else {}
                appended = ledger.append(
                    action="ingest",
                    subject={
                        "bundle_id": statement.bundle_id,
                        "case": case,
                        "exhibit": exhibit,
                        "statement_sha256": sha256_bytes(stmt),
                        "file_count": count,
                        "total_bytes": total,
                        "manifest_sha256": manifest_sha256,
                        **resumes,
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
            tokens = timestamp_files(attempts)
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

            warnings = (
                name_warnings(listing)
                + tuple(extracted.warnings)
                + ((similar.warning,) if similar.warning else ())
            )
            skipped = listing.skipped
            del tag_files
            (tmp / JOURNAL_NAME).unlink()  # never part of a bundle
            _stop_on(check_fresh_bundle(tmp, payload, signing_key.public_key()), bundle_path)
            os.chmod(tmp, 0o755)  # mkdtemp's 0700 would hide the bundle from colleagues
            restore_dir_times(data_dir, listing)
            listing.close()
            copied.close()
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
    except CustodyError as e:
        if disk_full(e) and not recording and building is not None:
            raise _kept_for_later(e, building) from e
        raise
    except OSError as e:
        failure = environment_error(e, e.filename or bundle_path)
        if disk_full(e) and not recording and building is not None:
            raise _kept_for_later(failure, building) from e
        raise failure from e

    return IngestResult(
        bundle=str(bundle_path),
        bundle_id=statement.bundle_id,
        statement_sha256=sha256_bytes(stmt),
        case=case,
        exhibit=exhibit,
        officer=officer,
        fingerprint=fingerprint,
        files=count,
        bytes=total,
        skipped=skipped,
        warnings=warnings + tuple(a.warning() for a in attempts if a.status != GRANTED),
        timestamps=tuple(
            {**a.to_json(), "file": next((t.file for t in tokens if t.attempt is a), None)}
            for a in attempts
        ),
    )


def _kept_for_later(e: CustodyError, partial: Path) -> EnvironmentFailure:
    """A full disk stops the ingest but loses nothing: one line saying what
    is full, where the partial copy is kept, and how to continue it."""
    return EnvironmentFailure(
        f"{e.message}: the ingest stopped and its partial copy is kept at {partial}; "
        "free some space, then run the same ingest again (or with --resume) to continue it",
        path=e.path,
    )


def _stop_on(problems: list[Problem], bundle_path: Path) -> None:
    if problems:
        raise EnvironmentFailure(
            "the new bundle failed its own check: " + "; ".join(p.line() for p in problems),
            path=str(bundle_path),
        )
