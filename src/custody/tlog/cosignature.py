"""C2SP tlog-cosignature/v1 (Ed25519): making and checking witness cosignatures.

A cosignature is a signed-note signature line on a checkpoint:

    — <witness name> base64(key id (4) || timestamp (8, big-endian) || Ed25519 signature (64))

key id = SHA-256(<name> || 0x0A || 0x04 || raw public key)[:4]; the signed
message is "cosignature/v1\\n" "time <timestamp>\\n" followed by the
checkpoint's note text (its lines up to and including the final newline, no
signature lines). Pure functions: no clock is read here, "now" is passed in.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from custody.base.signing import signature_is_valid
from custody.base.utc import utc_text
from custody.tlog.note import EM_DASH, Checkpoint, NoteError, parse_checkpoint, valid_key_name

ALG_COSIGNATURE_V1 = b"\x04"
COSIGNATURE_BLOB_LENGTH = 4 + 8 + 64
MAX_TIMESTAMP = (1 << 63) - 1
FUTURE_SLACK_S = 300
"""A cosignature dated more than this far after "now" is not counted."""


def _raw(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def cosigner_key_id(name: str, public_key: Ed25519PublicKey) -> bytes:
    """The 4-byte key id of a cosignature/v1 Ed25519 key under `name`."""
    return hashlib.sha256(name.encode() + b"\n" + ALG_COSIGNATURE_V1 + _raw(public_key)).digest()[
        :4
    ]


def verifier_key(name: str, public_key: Ed25519PublicKey) -> str:
    """The signed-note verifier key (vkey) string: name+keyid hex+base64(0x04 || key)."""
    kid = cosigner_key_id(name, public_key).hex()
    return f"{name}+{kid}+{base64.b64encode(ALG_COSIGNATURE_V1 + _raw(public_key)).decode()}"


def signed_message(note_text: bytes, timestamp: int) -> bytes:
    """The exact bytes a cosignature/v1 signs."""
    return b"cosignature/v1\ntime " + str(timestamp).encode() + b"\n" + note_text


def cosign(note_text: bytes, *, name: str, private_key: Ed25519PrivateKey, timestamp: int) -> bytes:
    """One cosignature line (ending in a newline) over a checkpoint's note text."""
    if not valid_key_name(name):
        raise NoteError("a witness name must be non-empty with no spaces or '+'")
    if not 0 <= timestamp <= MAX_TIMESTAMP:
        raise NoteError("timestamp out of range")
    sig = private_key.sign(signed_message(note_text, timestamp))
    blob = cosigner_key_id(name, private_key.public_key()) + struct.pack(">Q", timestamp) + sig
    return f"{EM_DASH} {name} {base64.b64encode(blob).decode()}\n".encode()


def parse_signature_lines(data: bytes) -> list[tuple[str, bytes]]:
    """(name, blob) of each signature line in a witness's response body.
    Raises NoteError when a line is malformed."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise NoteError("response is not UTF-8") from e
    if not text.endswith("\n"):
        raise NoteError("signature lines must end with a newline")
    lines = []
    for line in text[:-1].split("\n"):
        parts = line.split(" ")
        if len(parts) != 3 or parts[0] != EM_DASH or not valid_key_name(parts[1]):
            raise NoteError("malformed signature line")
        try:
            blob = base64.b64decode(parts[2], validate=True)
        except binascii.Error as e:
            raise NoteError("signature is not base64") from e
        if len(blob) < 5:
            raise NoteError("signature is too short")
        lines.append((parts[1], blob))
    return lines


def _signer_of(line: bytes) -> tuple[bytes, bytes] | None:
    """(key name, key id) of a signature line, or None when it does not parse."""
    parts = line.split(b" ")
    if len(parts) != 3:
        return None
    try:
        blob = base64.b64decode(parts[2], validate=True)
    except binascii.Error:
        return None
    return (parts[1], blob[:4]) if len(blob) >= 4 else None


def add_signature_lines(note: bytes, lines: bytes) -> bytes:
    """A signed note with more signature lines, in order, one per signer: a
    witness that cosigns the same checkpoint again (a later timestamp) adds
    nothing, so the note keeps its first, earliest cosignature and does not
    grow each time it is resubmitted."""
    existing = note.split(b"\n\n", 1)
    held = note[len(existing[0]) + 2 :].splitlines() if len(existing) == 2 else []
    seen = set(held)
    signers = {s for s in map(_signer_of, held) if s is not None}
    out = note
    for line in lines.splitlines():
        signer = _signer_of(line)
        if not line or line in seen or (signer is not None and signer in signers):
            continue
        out += line + b"\n"
        seen.add(line)
        if signer is not None:
            signers.add(signer)
    return out


@dataclass(frozen=True)
class WitnessKey:
    """A witness the verifier chose: the name it cosigns under, and its key."""

    name: str
    public_key: Ed25519PublicKey
    fingerprint: str = ""

    @property
    def key_id(self) -> bytes:
        return cosigner_key_id(self.name, self.public_key)


@dataclass(frozen=True)
class CosignatureCheck:
    """One cosignature line on a checkpoint and what the verifier made of it.

    status: "valid" (a chosen witness's, and it verifies), "invalid" (claims a
    chosen witness's key id but does not verify, or is malformed), "future"
    (valid, but dated after now), "unknown" (not from a witness the verifier
    chose: shown, never counted)."""

    witness: str
    key_id: str
    time: str | None
    timestamp: int | None
    status: str
    witness_key: bytes | None = None
    """The raw public key of the chosen witness the line names (None: unknown).
    A quorum counts these: a cosignature does not sign the witness's name."""

    def to_json(self) -> dict[str, Any]:
        return {
            "witness": self.witness,
            "key_id": self.key_id,
            "time": self.time,
            "status": self.status,
        }


def _iso(timestamp: int) -> str | None:
    try:
        return utc_text(datetime.fromtimestamp(timestamp, UTC))
    except (OverflowError, OSError, ValueError):
        return None


def check_cosignatures(
    checkpoint: Checkpoint, witnesses: Sequence[WitnessKey], *, now: int
) -> tuple[CosignatureCheck, ...]:
    """Every signature line on `checkpoint` other than the log's own (named
    after its origin), checked against the chosen `witnesses`."""
    by_id = {(w.name, w.key_id): w for w in witnesses}
    found = []
    for name, kid, rest in checkpoint.signatures:
        if name == checkpoint.origin:
            continue
        blob = kid + rest
        timestamp = None
        if len(blob) == COSIGNATURE_BLOB_LENGTH:
            timestamp = struct.unpack(">Q", blob[4:12])[0]
        witness = by_id.get((name, kid))
        if witness is None:
            status = "unknown"
        elif (
            timestamp is None
            or timestamp > MAX_TIMESTAMP
            or not signature_is_valid(
                witness.public_key, blob[12:], signed_message(checkpoint.text, timestamp)
            )
        ):
            status = "invalid"
        elif timestamp > now + FUTURE_SLACK_S:
            status = "future"
        else:
            status = "valid"
        found.append(
            CosignatureCheck(
                name,
                kid.hex(),
                _iso(timestamp) if timestamp is not None else None,
                timestamp,
                status,
                _raw(witness.public_key) if witness is not None else None,
            )
        )
    return tuple(found)


def valid_witnesses(checks: Iterable[CosignatureCheck]) -> set[bytes]:
    """The distinct witness keys with a valid cosignature: what a quorum counts.
    A witness that signed twice counts once, and so does one key the verifier
    trusts under two names (a renamed witness whose old key file was kept):
    cosignature/v1 signs the checkpoint and the time, not the name, so one
    cosignature can be relabelled with every name the key is trusted under."""
    return {c.witness_key for c in checks if c.status == "valid" and c.witness_key is not None}


def cosignatures_of(
    note: bytes, witnesses: Sequence[WitnessKey], *, now: int
) -> tuple[CosignatureCheck, ...]:
    """Parse a signed checkpoint and check its cosignatures. Raises NoteError."""
    return check_cosignatures(parse_checkpoint(note), witnesses, now=now)
