"""`custody team verify`'s check of the cosigned team checkpoints the database
keeps (table `cosigned`). Pure.

A cosigned checkpoint must be, line for line, the team checkpoint the log signed
at its size (by the pinned key) with witnesses' cosignature lines added; every
cosignature that claims a witness this home chose must verify.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from custody.base.models import Problem
from custody.tlog.cosignature import WitnessKey, check_cosignatures
from custody.tlog.note import NoteError, checkpoint_signed_by, parse_checkpoint


def audit_cosigned(
    cosigned: Iterable[tuple[int, bytes, bytes | None]],
    *,
    origin: str,
    key: Ed25519PublicKey,
    witness_keys: Sequence[WitnessKey],
    now: int,
) -> tuple[list[Problem], dict[str, Any] | None]:
    """Check (size, cosigned note, the team checkpoint stored at that size or
    None) in size order. Returns (problems, the newest valid cosigned checkpoint
    as {"size", "checkpoint", "cosignatures": [{witness, key_id, time, status}]}
    or None)."""
    problems: list[Problem] = []
    newest: dict[str, Any] | None = None
    for size, note, stored in cosigned:
        where = f"cosigned checkpoint {size}"
        try:
            cp = parse_checkpoint(note)
        except NoteError as e:
            problems.append(Problem("bad_cosigned_checkpoint", where, str(e)))
            continue
        try:
            signed = parse_checkpoint(stored) if stored is not None else None
        except NoteError:
            signed = None
        if (
            cp.size != size
            or cp.origin != origin
            or signed is None
            or cp.text != signed.text
            or not checkpoint_signed_by(cp, key)
        ):
            problems.append(
                Problem(
                    "bad_cosigned_checkpoint",
                    where,
                    "is not the team checkpoint the log signed at its size",
                )
            )
            continue
        checks = check_cosignatures(cp, witness_keys, now=now)
        for c in checks:
            if c.status == "invalid":
                problems.append(
                    Problem(
                        "bad_cosignature",
                        where,
                        f"the cosignature by witness {c.witness} does not verify",
                    )
                )
        newest = {
            "size": size,
            "checkpoint": note.decode("utf-8"),
            "cosignatures": [c.to_json() for c in checks],
        }
    return problems, newest
