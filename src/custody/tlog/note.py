"""Checkpoints in the C2SP tlog-checkpoint format, as C2SP signed notes.

A checkpoint is the text

    <origin>\\n<tree size>\\n<base64 root hash>\\n

followed by a blank line and one signature line per signer:

    — <key name> <base64(key id (4 bytes) || Ed25519 signature (64 bytes))>\\n

The signature covers the text including its final newline. The key id is the
first 4 bytes of SHA-256(key name || 0x0A || 0x01 || raw public key). custody
uses the origin as the key name. Pure functions; see docs/ledger.md.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from custody.base.signing import signature_is_valid

EM_DASH = "\u2014"
ALG_ED25519 = b"\x01"
MAX_NOTE_BYTES = 1 << 20


class NoteError(ValueError):
    """A checkpoint that cannot be parsed."""


@dataclass(frozen=True)
class Checkpoint:
    """A parsed checkpoint: what it claims, and its signature lines."""

    origin: str
    size: int
    root: bytes
    text: bytes  # the signed part, exactly
    signatures: tuple[tuple[str, bytes, bytes], ...]  # (key name, key id, signature)


def _raw(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(name: str, public_key: Ed25519PublicKey) -> bytes:
    """The 4-byte signed-note key id of an Ed25519 key under `name`."""
    return hashlib.sha256(name.encode() + b"\n" + ALG_ED25519 + _raw(public_key)).digest()[:4]


def valid_key_name(name: str) -> bool:
    """Key names are non-empty, with no whitespace and no '+'."""
    return bool(name) and not re.search(r"[\s+]", name)


def checkpoint_text(origin: str, size: int, root: bytes) -> bytes:
    """The note text of a checkpoint."""
    if not valid_key_name(origin):
        raise NoteError("origin must be non-empty with no spaces or '+'")
    return f"{origin}\n{size}\n{base64.b64encode(root).decode()}\n".encode()


def sign_checkpoint(origin: str, size: int, root: bytes, private_key: Ed25519PrivateKey) -> bytes:
    """A signed checkpoint, signed under the key name `origin`."""
    text = checkpoint_text(origin, size, root)
    sig = private_key.sign(text)
    kid = key_id(origin, private_key.public_key())
    line = f"{EM_DASH} {origin} {base64.b64encode(kid + sig).decode()}\n"
    return text + b"\n" + line.encode()


def parse_checkpoint(data: bytes) -> Checkpoint:
    """Parse a signed checkpoint strictly. Raises NoteError."""
    if len(data) > MAX_NOTE_BYTES:
        raise NoteError("checkpoint is too large")
    try:
        text_all = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise NoteError("checkpoint is not UTF-8") from e
    if re.search(r"[\x00-\x09\x0b-\x1f]", text_all):
        raise NoteError("checkpoint contains control characters")
    split = text_all.rfind("\n\n")
    if split < 0:
        raise NoteError("checkpoint has no signature block")
    body = text_all[: split + 1]
    sig_block = text_all[split + 2 :]
    lines = body.split("\n")[:-1]
    if len(lines) < 3 or any(not line for line in lines):
        raise NoteError("checkpoint text needs origin, size and root hash lines")
    origin, size_text, root_text = lines[0], lines[1], lines[2]
    if not re.fullmatch(r"0|[1-9][0-9]{0,18}", size_text):
        raise NoteError("checkpoint tree size is not a decimal number")
    try:
        root = base64.b64decode(root_text, validate=True)
    except ValueError as e:  # binascii.Error, or a character outside ASCII
        raise NoteError("checkpoint root hash is not base64") from e
    if len(root) != 32 or base64.b64encode(root).decode() != root_text:
        raise NoteError("checkpoint root hash is not 32 bytes of canonical base64")
    if not sig_block.endswith("\n"):
        raise NoteError("checkpoint signature block does not end with a newline")
    signatures = []
    for line in sig_block[:-1].split("\n"):
        m = re.fullmatch(f"{EM_DASH} (\\S+) ([A-Za-z0-9+/=]+)", line)
        if m is None:
            raise NoteError("malformed checkpoint signature line")
        try:
            blob = base64.b64decode(m.group(2), validate=True)
        except ValueError as e:
            raise NoteError("checkpoint signature is not base64") from e
        if len(blob) < 5:
            raise NoteError("checkpoint signature is too short")
        signatures.append((m.group(1), blob[:4], blob[4:]))
    if not signatures:
        raise NoteError("checkpoint is not signed")
    return Checkpoint(origin, int(size_text), root, body.encode(), tuple(signatures))


def checkpoint_signed_by(checkpoint: Checkpoint, public_key: Ed25519PublicKey) -> bool:
    """True when a signature line by `public_key` (under the origin as key
    name) is present and valid. A line with this key's id that fails is a
    failure, as the signed-note spec requires."""
    kid = key_id(checkpoint.origin, public_key)
    for name, line_kid, sig in checkpoint.signatures:
        if name == checkpoint.origin and line_kid == kid:
            return signature_is_valid(public_key, sig, checkpoint.text)
    return False
