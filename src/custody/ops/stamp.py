"""Adding RFC 3161 timestamps to a bundle folder: at ingest, or later with
`custody timestamp` when the scene had no network.

What is stamped is the exact bytes of custody/statement.sig. The statement,
its signature and the evidence are never touched. Each token is written to a
temporary file beside the bundle (never inside it), made durable, then linked
into custody/timestamps/N.tsr with no-replace (the commit point), and the
tag manifest is then replaced atomically, its temporary file beside the bundle
too. A crash leaves the bundle as it was, or with a whole token that the tag
manifest may not list yet: verify checks such a token like any other and
mentions it, and the next `custody timestamp` lists it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from custody.base.errors import InputError
from custody.base.fsutil import environment_error, fsync_dir
from custody.base.hashing import sha256_bytes
from custody.base.utc import utc_now_text
from custody.bundle.amend.tagwrite import (
    bundle_lock,
    read_tag_manifest,
    temp_beside,
    write_tag_manifest,
)
from custody.bundle.format import layout
from custody.bundle.format.statement import StatementError, parse_statement
from custody.io.tsa_client import request_timestamps
from custody.tsa.attempt import GRANTED, StampAttempt

if TYPE_CHECKING:
    from custody.base.keys import Signer
    from custody.io.ledger_store import Ledger


@dataclass(frozen=True)
class StoredToken:
    """A token now in the bundle."""

    file: str
    sha256: str
    attempt: StampAttempt


@dataclass(frozen=True)
class TimestampResult:
    """What `custody timestamp` did to a bundle."""

    bundle: str
    attempts: tuple[StampAttempt, ...]
    stored: tuple[StoredToken, ...]
    relisted: tuple[str, ...] = ()
    """Tokens an interrupted earlier run had left unlisted, now listed."""
    ledger_indexes: tuple[int, ...] = ()

    def to_json(self) -> dict[str, Any]:
        files = {id(s.attempt): s for s in self.stored}
        return {
            "bundle": self.bundle,
            "timestamps": [
                {
                    **a.to_json(),
                    "file": files[id(a)].file if id(a) in files else None,
                    "sha256": files[id(a)].sha256 if id(a) in files else None,
                }
                for a in self.attempts
            ],
            "relisted": list(self.relisted),
            "ledger_entries": list(self.ledger_indexes),
        }


def read_signature(bundle: Path) -> bytes:
    """The bytes a timestamp covers. Raises InputError."""
    if not bundle.is_dir() or bundle.is_symlink():
        raise InputError(
            "timestamps are added to a bundle folder; unpack the archive first", path=str(bundle)
        )
    path = bundle / layout.SIGNATURE
    if path.is_symlink() or not path.is_file():
        raise InputError("not a custody bundle (no custody/statement.sig)", path=str(bundle))
    try:
        return path.read_bytes()
    except OSError as e:
        raise InputError(f"cannot read ({e.strerror})", path=str(path)) from e


def store_tokens(
    bundle: Path, attempts: tuple[StampAttempt, ...]
) -> tuple[tuple[StoredToken, ...], tuple[str, ...]]:
    """Store every granted reply of `attempts` in `bundle`, exactly as received,
    and list them (and any unlisted leftover) in the tag manifest. Returns what
    was stored and what was relisted. Raises InputError, EnvironmentFailure."""
    folder = bundle / layout.TIMESTAMPS_DIR
    stored: list[StoredToken] = []
    try:
        with bundle_lock(bundle):
            listed = read_tag_manifest(bundle)
            granted = [a for a in attempts if a.status == GRANTED and a.reply is not None]
            if granted and not folder.is_dir():
                folder.mkdir(mode=0o755)
                fsync_dir(folder.parent)
            taken = _numbers(folder)
            for attempt in granted:
                assert attempt.reply is not None
                tmp = temp_beside(bundle, attempt.reply, ".tsr.tmp")
                try:
                    number = max(taken, default=0) + 1
                    while True:
                        try:
                            os.link(tmp, folder / f"{number}.tsr")
                            break
                        except FileExistsError:
                            number += 1
                finally:
                    os.unlink(tmp)
                taken.add(number)
                stored.append(
                    StoredToken(layout.timestamp_path(number), sha256_bytes(attempt.reply), attempt)
                )
            if stored:
                fsync_dir(folder)
            relisted = []
            for number in sorted(taken):
                rel = layout.timestamp_path(number)
                if rel in listed:
                    continue
                data = (bundle / rel).read_bytes()
                listed[rel] = sha256_bytes(data)
                if all(s.file != rel for s in stored):
                    relisted.append(rel)
            if stored or relisted:
                write_tag_manifest(bundle, listed)
    except OSError as e:
        raise environment_error(e, e.filename or bundle) from e
    return tuple(stored), tuple(relisted)


def _numbers(folder: Path) -> set[int]:
    if not folder.is_dir():
        return set()
    found = set()
    for entry in folder.iterdir():
        number = layout.timestamp_number(f"{layout.TIMESTAMPS_DIR}/{entry.name}")
        if number is not None and entry.is_file() and not entry.is_symlink():
            found.add(number)
    return found


def timestamp_bundle(
    *,
    bundle: Path,
    urls: Sequence[str],
    ledger: Ledger | None,
    signer: Signer | None,
    timeout: float | None = None,
) -> TimestampResult:
    """Ask every TSA in `urls` to stamp `bundle`'s signature and store each
    token granted, recording each in `ledger` (a `timestamp` entry with the
    token's SHA-256) signed by `signer`. A TSA that fails is a failed attempt,
    not an error. Raises InputError (not a bundle folder, no URL, damaged tag
    manifest), EnvironmentFailure."""
    if not urls:
        raise InputError("no TSA given: use --tsa URL, or set CUSTODY_TSA")
    signature = read_signature(bundle)
    subject = _bundle_subject(bundle)
    attempts = request_timestamps(urls, signature, timeout=timeout)
    stored, relisted = store_tokens(bundle, attempts)
    indexes: list[int] = []
    if ledger is not None and signer is not None:
        for token in stored:
            indexes.append(record_timestamp(ledger, signer, subject, token))
    return TimestampResult(str(bundle), attempts, stored, relisted, tuple(indexes))


def record_timestamp(
    ledger: Ledger, signer: Signer, subject: dict[str, Any], token: StoredToken
) -> int:
    """Append a `timestamp` entry for one stored token; its ledger index."""
    appended = ledger.append(
        action="timestamp",
        subject={
            **subject,
            "file": token.file,
            "token_sha256": token.sha256,
            "tsa": token.attempt.tsa,
            "gen_time": token.attempt.gen_time,
        },
        signer=signer.key,
        signer_name=signer.name,
        time=utc_now_text(),
    )
    return appended.index


def _bundle_subject(bundle: Path) -> dict[str, Any]:
    try:
        data = (bundle / layout.STATEMENT).read_bytes()
    except OSError as e:
        raise InputError(
            "not a custody bundle (no custody/statement.json)", path=str(bundle)
        ) from e
    try:
        statement = parse_statement(data)
    except StatementError as e:
        raise InputError(f"the statement is damaged ({e})", path=str(bundle)) from e
    return {
        "bundle_id": statement.get("bundle_id"),
        "case": statement.get("case"),
        "statement_sha256": sha256_bytes(data),
    }
