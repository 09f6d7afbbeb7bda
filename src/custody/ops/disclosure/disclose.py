"""custody disclose: a package of some of a bundle's items, checkable against
the bundle's original signature, with everything else withheld.

Nothing is signed that was not checked: the statement's signature, the
commitments against its root, and every disclosed file against its leaf."""

from __future__ import annotations

import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from custody import __version__
from custody.base.errors import BadSignature, CustodyError, InputError
from custody.base.fsutil import (
    environment_error,
    fsync_dir,
    rename_noreplace,
    sync_filesystem,
    temporary_directory_beside,
)
from custody.base.hashing import sha256_bytes
from custody.base.keys import Signer, parse_public_key_file, public_key_file_bytes
from custody.base.signing import sign_bytes, verify_signature
from custody.bundle.format import layout
from custody.bundle.format.commitments import COMMITMENTS_PATH, LeafError
from custody.bundle.format.statement import StatementError, parse_statement
from custody.disclosure import package as P
from custody.disclosure.copies import Copy, Files
from custody.disclosure.plan import Plan, whole_plan
from custody.disclosure.request import DisclosureRequest
from custody.io.tsa_client import request_timestamps
from custody.ops.disclosure.copy_out import put_copy
from custody.ops.disclosure.zipfiles import write_zip
from custody.tsa.attempt import GRANTED

if TYPE_CHECKING:
    from custody.io.ledger_store import Ledger
    from custody.scope.limit import ScopeLimit


@dataclass(frozen=True)
class DisclosureResult:
    package: str
    disclosure_id: str
    bundle_id: str
    committed: bool
    record_sha256: str
    ledger_index: int | None
    summary: dict[str, Any]
    zip: str | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)
    timestamps: int = 0
    scope: dict[str, Any] | None = None
    """The scope record the disclosure was limited to (--scope), as signed in the record."""

    def to_json(self) -> dict[str, Any]:
        return {
            "package": self.package,
            "zip": self.zip,
            "disclosure_id": self.disclosure_id,
            "bundle_id": self.bundle_id,
            "committed": self.committed,
            "record_sha256": self.record_sha256,
            "ledger_index": self.ledger_index,
            "disclosure": self.summary,
            "notes": list(self.notes),
            "timestamps": self.timestamps,
            "scope": self.scope,
        }


def disclose_bundle(
    *,
    bundle: Path,
    out: Path,
    request: DisclosureRequest,
    signer: Signer,
    ledger: Ledger | None = None,
    make_zip: bool = False,
    now: datetime | None = None,
    tsa_urls: Sequence[str] = (),
    tsa_timeout: float | None = None,
    scope: ScopeLimit | None = None,
) -> DisclosureResult:
    """Write the disclosure package `out` (and `out`.zip with `make_zip`);
    with `scope`, nothing outside that scope record (ops/disclosure/scope.py).
    Raises InputError for a bundle or request that cannot be disclosed (one
    line naming what), EnvironmentFailure when the disk fails. Nothing is left
    on failure."""
    created = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    if not bundle.is_dir() or not (bundle / layout.STATEMENT).is_file():
        raise InputError("not a bundle folder (disclose reads a bundle folder)", path=str(bundle))
    if os.path.lexists(out):
        raise InputError("already exists; nothing was replaced", path=str(out))
    try:
        stmt = (bundle / layout.STATEMENT).read_bytes()
        sig = (bundle / layout.SIGNATURE).read_bytes()
        pub = (bundle / layout.SIGNER_KEY).read_bytes()
    except OSError as e:
        raise InputError("cannot be read: run custody verify", path=str(e.filename)) from e
    try:
        statement = parse_statement(stmt)
    except StatementError as e:
        raise InputError(f"bad statement: {e}", path=str(bundle / layout.STATEMENT)) from e
    key = parse_public_key_file(pub).public_key
    from custody.base.keys import fingerprint_of

    try:
        if fingerprint_of(key) != statement["key_fingerprint"]:
            raise BadSignature("the statement names another key")
        verify_signature(key, sig, stmt)
    except BadSignature as e:
        raise InputError(
            "the statement's signature does not verify: run custody verify", path=str(bundle)
        ) from e
    if scope is not None:
        from custody.ops.disclosure.scope import limit_request

        request = limit_request(
            request,
            scope=scope,
            bundle=bundle,
            bundle_id=str(statement.get("bundle_id")),
            statement_sha256=sha256_bytes(stmt),
        )
    if request.basis is None and any(k not in request.bases for k in request.needs_basis):
        raise InputError("give --basis: the ground for withholding or redacting")
    commitments = statement.get("commitments")
    files: Files = {}
    tag_extra: dict[str, bytes] = {}
    notes: list[str] = []
    if not isinstance(commitments, dict):
        if request.partial or request.disclose_note:
            raise InputError(
                "made before commitments existed: only whole-bundle disclosure is possible "
                "(no --withhold, --strip-metadata, --redact-messages, --derived, "
                "--withhold-field, --reveal or --disclose-note)",
                path=str(bundle),
            )
        notes.append("made before commitments existed: disclosed whole, as the record states")
        try:
            record_items, withheld, leaves_file, summary = whole_plan(
                bundle, statement, files, tag_extra
            )
        except OSError as e:
            raise InputError(
                "cannot be read: run custody verify on the bundle", path=str(e.filename or bundle)
            ) from e
        note_state: dict[str, Any] | None = None
    else:
        try:
            plan = Plan(bundle, statement, commitments, request)
            record_items, withheld, leaves_file, summary = plan.build(files)
        except LeafError as e:
            raise InputError(
                f"a committed leaf is unreadable ({e}): run custody verify",
                path=str(bundle / COMMITMENTS_PATH),
            ) from e
        except OSError as e:
            # A file of the bundle (not the derived copy: plan.py names that) is gone.
            raise InputError(
                "cannot be read: run custody verify on the bundle", path=str(e.filename or bundle)
            ) from e
        note_state = plan.note_state
        notes.extend(plan.notes)
    if scope is not None:  # nothing outside the scope, whatever was decided
        from custody.ops.disclosure.scope import check_disclosed

        check_disclosed(record_items, scope)
    zip_path = out.with_name(out.name + ".zip") if make_zip else None
    if zip_path is not None and os.path.lexists(zip_path):
        raise InputError("already exists; nothing was replaced", path=str(zip_path))
    try:
        with temporary_directory_beside(out) as tmp:
            # Every byte copied and checked before anything is signed or recorded:
            # a file that differs from its commitment stops here, leaving nothing.
            # Copies are streamed (flat memory for a large video); their hashes,
            # known once written, make the manifest the record signs.
            for path, copy in list(files.items()):
                files[path] = put_copy(tmp / path, copy)
            signed = _sign_and_record(
                tmp=tmp,
                files=files,
                statement=statement,
                stmt=stmt,
                sig=sig,
                pub=pub,
                request=request,
                signer=signer,
                ledger=ledger,
                created=created,
                committed=isinstance(commitments, dict),
                record_items=record_items,
                withheld=withheld,
                leaves_file=leaves_file,
                note_state=note_state,
                tag_extra=tag_extra,
                tsa_urls=tsa_urls,
                tsa_timeout=tsa_timeout,
                scope=scope,
            )
            notes.extend(signed.notes)
            os.chmod(tmp, 0o755)
            sync_filesystem(tmp)
            try:
                rename_noreplace(tmp, out)
            except FileExistsError as e:
                raise InputError("already exists; nothing was replaced", path=str(out)) from e
            fsync_dir(out.parent)
        if zip_path is not None:
            write_zip(zip_path, out, sorted(files) + sorted(signed.tags))
    except CustodyError:
        raise
    except OSError as e:
        raise environment_error(e, e.filename or out) from e
    return DisclosureResult(
        package=str(out),
        disclosure_id=signed.disclosure_id,
        bundle_id=str(statement["bundle_id"]),
        committed=isinstance(commitments, dict),
        record_sha256=sha256_bytes(signed.record),
        ledger_index=signed.ledger_index,
        summary=summary,
        zip=str(zip_path) if zip_path is not None else None,
        notes=tuple(notes),
        timestamps=signed.timestamps,
        scope=_scope_field(scope),
    )


@dataclass(frozen=True)
class _Signed:
    disclosure_id: str
    record: bytes
    tags: dict[str, bytes]
    ledger_index: int | None
    timestamps: int
    notes: tuple[str, ...]


def _sign_and_record(
    *,
    tmp: Path,
    files: Files,
    statement: dict[str, Any],
    stmt: bytes,
    sig: bytes,
    pub: bytes,
    request: DisclosureRequest,
    signer: Signer,
    ledger: Ledger | None,
    created: datetime,
    committed: bool,
    record_items: list[dict[str, Any]],
    withheld: list[dict[str, Any]],
    leaves_file: bytes | None,
    note_state: dict[str, Any] | None,
    tag_extra: dict[str, bytes],
    tsa_urls: Sequence[str],
    tsa_timeout: float | None,
    scope: ScopeLimit | None = None,
) -> _Signed:
    """The record over the files written, signed, stamped, recorded in the
    ledger, and every tag file written into `tmp`."""
    disclosure_id = str(uuid.uuid4())
    manifest = layout.format_manifest((path, str(copy.sha256)) for path, copy in files.items())
    record: dict[str, Any] = {
        "format": P.RECORD_FORMAT,
        "disclosure_id": disclosure_id,
        "bundle_id": statement["bundle_id"],
        "statement_sha256": sha256_bytes(stmt),
        "committed": committed,
        "to": request.to,
        "officer": signer.name,
        "key_fingerprint": signer.fingerprint,
        "created": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "tool": f"custody {__version__}",
        "manifest_sha256": sha256_bytes(manifest),
        "leaves_sha256": sha256_bytes(leaves_file) if leaves_file is not None else None,
        "items": record_items,
        "withheld": withheld,
        "note": note_state,
        "supplement_to": request.supplement_to,
    }
    if scope is not None:  # only then: a record made without --scope is as before
        record["scope"] = _scope_field(scope)
    rec = P.record_bytes(record)
    tags: dict[str, bytes] = {
        layout.BAGIT_TXT: layout.BAGIT_TXT_BYTES,
        layout.STATEMENT: stmt,
        layout.SIGNATURE: sig,
        layout.SIGNER_KEY: pub,
        P.RECORD: rec,
        P.RECORD_SIG: sign_bytes(signer.key, rec),
        P.DISCLOSER_KEY: public_key_file_bytes(signer.name, signer.key.public_key()),
        layout.MANIFEST: manifest,
        **tag_extra,
    }
    if leaves_file is not None:
        tags[P.LEAVES] = leaves_file
    # Trusted time for the record: each TSA stamps its signature (a TSA that
    # fails costs a warning, as at ingest).
    attempts = request_timestamps(tsa_urls, tags[P.RECORD_SIG], timeout=tsa_timeout)
    granted = [a for a in attempts if a.status == GRANTED and a.reply is not None]
    for number, attempt in enumerate(granted, start=1):
        tags[P.timestamp_path(number)] = attempt.reply or b""
    notes = tuple(a.warning() for a in attempts if a.status != GRANTED)
    total = sum(c.size for c in files.values())
    tags[layout.BAG_INFO] = layout.format_bag_info(
        [
            ("Custody-Case-Id", str(statement["case"])),
            ("Custody-Disclosure-Id", disclosure_id),
            ("Custody-Disclosed-By", signer.name),
            ("Bagging-Date", created.strftime("%Y-%m-%d")),
            ("Bag-Software-Agent", f"custody {__version__}"),
            ("Payload-Oxum", f"{total}.{len(files)}"),
        ]
    )
    ledger_index = None
    if ledger is not None:
        from custody.ledger.proof import proof_file_bytes

        appended = ledger.append(
            action="disclose",
            subject={
                "disclosure_id": disclosure_id,
                "bundle_id": statement["bundle_id"],
                "case": statement["case"],
                "exhibit": statement["exhibit"],
                "to": request.to,
                "statement_sha256": sha256_bytes(stmt),
                "record_sha256": sha256_bytes(rec),
            },
            signer=signer.key,
            signer_name=signer.name,
            time=record["created"],
        )
        ledger_index = appended.index
        tags[P.LEDGER_PROOF] = proof_file_bytes(appended)
    tags[layout.TAG_MANIFEST] = layout.format_manifest(
        (name, sha256_bytes(data)) for name, data in tags.items()
    )
    for name, data in tags.items():
        put_copy(tmp / name, Copy.of(data))
    return _Signed(disclosure_id, rec, tags, ledger_index, len(granted), notes)


def _scope_field(scope: ScopeLimit | None) -> dict[str, Any] | None:
    from custody.ops.disclosure.scope import scope_field

    return scope_field(scope) if scope is not None else None


def disclose_with_home(
    *,
    home: Path,
    bundle: Path,
    out: Path,
    request: DisclosureRequest,
    signer: Signer,
    make_zip: bool = False,
    tsa_urls: Sequence[str] = (),
    tsa_timeout: float | None = None,
    scope: Path | None = None,
) -> DisclosureResult:
    """disclose_bundle with the disclosure recorded in the ledger under `home`;
    with `scope`, limited to that scope record."""
    from custody.io.ledger_store import Ledger
    from custody.scope.limit import load_scope_limit

    with Ledger.open(home) as ledger:
        ledger.ensure_intact()
        limit = load_scope_limit(scope) if scope is not None else None
        return disclose_bundle(
            bundle=bundle,
            out=out,
            request=request,
            signer=signer,
            ledger=ledger,
            make_zip=make_zip,
            tsa_urls=tsa_urls,
            tsa_timeout=tsa_timeout,
            scope=limit,
        )
