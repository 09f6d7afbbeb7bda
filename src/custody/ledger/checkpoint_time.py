"""Timestamped checkpoints: `custody ledger checkpoint --tsa URL` stamps the
exact bytes of the signed checkpoint note. The token proves that every ledger
entry up to the checkpoint's size existed no later than the TSA's time plus
its stated accuracy (bundle/verify/check_time.py).

Tokens live beside the checkpoint in the ledger folder, as
checkpoint-timestamps/<SHA-256 of the note>-N.tsr; a token saved beside a
checkpoint file as FILE.tsr is found too. Checking is pure (as for bundles).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from custody.base.fsutil import environment_error, write_new_file
from custody.base.models import TimestampStatus
from custody.tsa.attempt import GRANTED, StampAttempt
from custody.tsa.token import INVALID, check_token, iso_utc

FOLDER = "checkpoint-timestamps"


def tokens_dir(ledger_folder: Path) -> Path:
    return ledger_folder / FOLDER


def store_checkpoint_tokens(
    ledger_folder: Path, note: bytes, attempts: Sequence[StampAttempt]
) -> tuple[Path, ...]:
    """Store each granted reply for `note`, exactly as received. Raises EnvironmentFailure."""
    folder = tokens_dir(ledger_folder)
    digest = hashlib.sha256(note).hexdigest()
    stored = []
    try:
        folder.mkdir(exist_ok=True)
        number = len(list(folder.glob(f"{digest}-*.tsr")))
        for attempt in attempts:
            if attempt.status != GRANTED or attempt.reply is None:
                continue
            while True:
                number += 1
                path = folder / f"{digest}-{number}.tsr"
                try:
                    write_new_file(path, attempt.reply)
                    break
                except FileExistsError:
                    continue
            stored.append(path)
    except OSError as e:
        raise environment_error(e, e.filename or folder) from e
    return tuple(stored)


def find_checkpoint_tokens(
    ledger_folder: Path, note: bytes, *, beside: Path | None = None
) -> tuple[tuple[str, bytes], ...]:
    """Every stored token for `note`: (file name, bytes)."""
    found: list[tuple[str, bytes]] = []
    digest = hashlib.sha256(note).hexdigest()
    candidates = sorted(tokens_dir(ledger_folder).glob(f"{digest}-*.tsr"))
    if beside is not None:
        candidates.append(beside.with_name(beside.name + ".tsr"))
    for path in candidates:
        try:
            if path.is_file() and not path.is_symlink():
                with path.open("rb") as fh:
                    found.append((str(path), fh.read(2 << 20)))
        except OSError:
            continue
    return tuple(found)


@dataclass(frozen=True)
class CheckpointTime:
    """What a checkpoint's timestamps prove."""

    tokens: tuple[TimestampStatus, ...]
    no_later_than: str | None
    tsa: str | None
    problems: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "checkpoint_timestamps": [t.to_json() for t in self.tokens],
            "checkpoint_no_later_than": self.no_later_than,
            "checkpoint_no_later_than_tsa": self.tsa,
        }


def check_checkpoint_time(
    note: bytes, tokens: Sequence[tuple[str, bytes]], roots: Sequence[Any]
) -> CheckpointTime:
    """Check every token as a timestamp of exactly `note` (pure)."""
    from custody.tsa.status import proven_signing_time, token_status

    statuses = []
    problems = []
    for name, data in tokens:
        check = check_token(data, note, roots, subject="this checkpoint")
        statuses.append(token_status(name, check))
        if check.status == INVALID:
            problems.append(f"{name}: invalid timestamp: {check.detail}")
    proven, tsa = proven_signing_time(statuses)
    return CheckpointTime(tuple(statuses), iso_utc(proven), tsa, tuple(problems))


def with_checkpoint_time(result: Any, time: CheckpointTime) -> Any:
    """A ConsistencyResult that also carries the checkpoint's timestamps."""
    return replace(
        result,
        problems=(*result.problems, *time.problems),
        consistent=result.consistent and not time.problems,
        checkpoint_time=time,
    )
