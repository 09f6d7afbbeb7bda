"""`custody select`: the operation that writes a scope record.

Checks the ledger first (ADR 0015), reads the bundle's signed metadata and
its extractions' members files, evaluates the filter over every item, and
writes the record into a temporary folder beside its final name: the list
streamed line by line, the notice copied byte for byte, scope.json signed.
The ledger entry is appended before the folder is renamed into place, so a
visible record is always a recorded one; on any failure nothing is left.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from custody.base.errors import CustodyError, InputError
from custody.base.fsutil import (
    environment_error,
    fsync_dir,
    rename_noreplace,
    sync_filesystem,
    temporary_directory_beside,
)
from custody.base.hashing import sha256_bytes
from custody.base.keys import Signer, fingerprint_of, public_key_file_bytes
from custody.base.signing import sign_bytes
from custody.scope.items import Item
from custody.scope.query import QueryError, matches, parse_query
from custody.scope.record import (
    MAX_REASON,
    NOTICE_STEM,
    SCOPE_FORMAT,
    SCOPE_JSON,
    SCOPE_SIG,
    SELECTED,
    SIGNER_PUB,
    SelectedList,
    scope_bytes,
)
from custody.scope.source import BundleItems, read_bundle_items

MAX_NOTICE = 256 * 1024 * 1024


@dataclass(frozen=True)
class SelectResult:
    """A scope record written: where, what it names, and its ledger entry."""

    record: str
    scope_id: str
    bundle_id: str
    where: str
    selected: int
    considered: int
    merkle_root: str | None
    scope_sha256: str
    ledger_index: int | None

    def to_json(self) -> dict[str, Any]:
        return dict(vars(self))


def select_items(
    *,
    home: Path,
    bundle: Path,
    where: str,
    notice: Path,
    reason: str,
    signer: Signer,
    out: Path | None = None,
    now: datetime | None = None,
) -> SelectResult:
    """Write a signed, ledger-recorded scope record of the items of `bundle`
    that `where` selects. Raises InputError (bad filter with its column, no
    notice, empty reason, a bundle whose metadata is not the signed one, an
    existing --out), LedgerDamaged, EnvironmentFailure."""
    from custody.io.ledger_store import Ledger

    try:
        query = parse_query(where)
    except QueryError as e:
        raise InputError(f"--where: {e}") from e
    reason = reason.strip()
    if not reason:
        raise InputError("--reason is empty: say why these items are needed")
    if len(reason) > MAX_REASON:
        raise InputError(f"--reason is longer than {MAX_REASON} characters")
    notice_bytes = _read_notice(notice)
    created = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    stamp = created.strftime("%Y-%m-%dT%H:%M:%SZ")
    with Ledger.open(home) as ledger:
        ledger.ensure_intact()  # before any other work (ADR 0015)
        source = read_bundle_items(bundle)
        target = out or bundle.parent / f"{bundle.name}.scope-{created:%Y%m%dT%H%M%SZ}"
        if target.exists() or target.is_symlink():
            raise InputError("already exists; nothing was replaced", path=str(target))
        scope_id = str(uuid.uuid4())
        try:
            with temporary_directory_beside(target) as tmp:
                listed = SelectedList()
                considered = _write_selected(tmp / SELECTED, source.items(), query, listed)
                notice_name = NOTICE_STEM + _suffix(notice)
                _write(tmp / notice_name, notice_bytes)
                summary = listed.summary()
                scope: dict[str, Any] = {
                    "format": SCOPE_FORMAT,
                    "scope_id": scope_id,
                    "created": stamp,
                    "officer": signer.name,
                    "key_fingerprint": fingerprint_of(signer.key.public_key()),
                    "bundle": {
                        "bundle_id": source.bundle_id,
                        "statement_sha256": source.statement_sha256,
                        "case": source.case,
                        "exhibit": source.exhibit,
                    },
                    "where": where,
                    "reason": reason,
                    "notice": {
                        "file": notice_name,
                        "name": notice.name,
                        "size": len(notice_bytes),
                        "sha256": sha256_bytes(notice_bytes),
                    },
                    "considered": considered,
                    "selected": summary,
                }
                data = scope_bytes(scope)
                _write(tmp / SCOPE_JSON, data)
                _write(tmp / SCOPE_SIG, sign_bytes(signer.key, data))
                _write(
                    tmp / SIGNER_PUB, public_key_file_bytes(signer.name, signer.key.public_key())
                )
                appended = ledger.append(
                    action="select",
                    subject={
                        "scope_id": scope_id,
                        "bundle_id": source.bundle_id,
                        "case": source.case,
                        "scope_sha256": sha256_bytes(data),
                        "selected": listed.count,
                        "merkle_root": summary["merkle_root"],
                    },
                    signer=signer.key,
                    signer_name=signer.name,
                    time=stamp,
                )
                os.chmod(tmp, 0o755)
                sync_filesystem(tmp)
                try:
                    rename_noreplace(tmp, target)
                except FileExistsError as e:
                    raise InputError(
                        "already exists; nothing was replaced", path=str(target)
                    ) from e
                fsync_dir(target.parent)
        except CustodyError:
            raise
        except OSError as e:
            raise environment_error(e, e.filename or target) from e
    return SelectResult(
        record=str(target),
        scope_id=scope_id,
        bundle_id=source.bundle_id,
        where=where,
        selected=listed.count,
        considered=considered,
        merkle_root=summary["merkle_root"],
        scope_sha256=sha256_bytes(data),
        ledger_index=appended.index,
    )


def _read_notice(notice: Path) -> bytes:
    try:
        if not notice.is_file() or notice.is_symlink():
            raise InputError("the notice must be a regular file", path=str(notice))
        if notice.stat().st_size > MAX_NOTICE:
            raise InputError("the notice is larger than 256 MiB", path=str(notice))
        return notice.read_bytes()
    except OSError as e:
        raise InputError(f"the notice cannot be read ({e.strerror})", path=str(notice)) from e


def _suffix(notice: Path) -> str:
    suffix = notice.suffix.lower()
    return suffix if suffix[1:].isalnum() and len(suffix) <= 8 else ""


def _write_selected(path: Path, items: Iterator[Item], query: Any, listed: SelectedList) -> int:
    considered = 0
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
    try:
        buffer = bytearray()
        for item in items:
            considered += 1
            if matches(query, item):
                buffer += listed.add(item.leaf())
                if len(buffer) >= 1 << 20:
                    _write_fd(fd, bytes(buffer))
                    buffer.clear()
        _write_fd(fd, bytes(buffer))
    finally:
        os.close(fd)
    return considered


def _write(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
    try:
        _write_fd(fd, data)
    finally:
        os.close(fd)


def _write_fd(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


__all__ = ["BundleItems", "SelectResult", "select_items"]
