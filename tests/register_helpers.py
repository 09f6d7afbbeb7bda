"""Build key register files by hand, with real keys, for tests that need a
register the authority commands would never write (hostile or broken ones)."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any

import rfc8785
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from custody.hashing import sha256_bytes
from custody.keys import fingerprint_of
from custody.register.format import VERSION_FORMAT, register_file_bytes


def b64(key: Ed25519PrivateKey) -> str:
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def unit_json(key: Ed25519PrivateKey, name: str = "Test Unit") -> dict[str, str]:
    return {"name": name, "fingerprint": fingerprint_of(key.public_key()), "public_key": b64(key)}


def key_json(
    key: Ed25519PrivateKey,
    name: str = "Officer",
    valid_from: str = "2026-01-01T00:00:00Z",
    valid_until: str = "2029-01-01T00:00:00Z",
    revocation: dict[str, str] | None = None,
) -> dict[str, Any]:
    return {
        "fingerprint": fingerprint_of(key.public_key()),
        "name": name,
        "public_key": b64(key),
        "valid_from": valid_from,
        "valid_until": valid_until,
        "revocation": revocation,
    }


def body(
    version: int,
    unit: dict[str, str],
    keys: Sequence[dict[str, Any]],
    previous: bytes | None = None,
    issued: str = "2026-02-01T00:00:00Z",
) -> bytes:
    return bytes(
        rfc8785.dumps(
            {
                "format": VERSION_FORMAT,
                "version": version,
                "previous_sha256": sha256_bytes(previous) if previous is not None else None,
                "issued": issued,
                "unit": unit,
                "keys": sorted(keys, key=lambda k: str(k["fingerprint"])),
            }
        )
    )


def register_file(versions: Sequence[tuple[bytes, Sequence[Ed25519PrivateKey]]]) -> bytes:
    """A register file of these signed bodies, each signed by these keys."""
    return register_file_bytes(
        [
            (signed, [(fingerprint_of(k.public_key()), k.sign(signed)) for k in signers])
            for signed, signers in versions
        ]
    )
