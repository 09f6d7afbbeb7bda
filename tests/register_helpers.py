"""Build key register files by hand, with real keys, for tests that need a
register the authority commands would never write (hostile or broken ones)."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any

import rfc8785
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from custody.base.hashing import sha256_bytes
from custody.base.keys import fingerprint_of
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
) -> dict[str, Any]:
    """A key as a version's `added` lists it."""
    return {
        "fingerprint": fingerprint_of(key.public_key()),
        "name": name,
        "public_key": b64(key),
        "valid_from": valid_from,
        "valid_until": valid_until,
    }


def revocation_json(
    key: Ed25519PrivateKey,
    reason: str = "superseded",
    since: str = "2026-01-15T00:00:00Z",
    revoked_at: str | None = None,
) -> dict[str, str]:
    """An entry of a version's `revoked`."""
    return {
        "fingerprint": fingerprint_of(key.public_key()),
        "reason": reason,
        "since": since,
        "revoked_at": revoked_at or since,
    }


def body(
    version: int,
    unit: dict[str, str],
    added: Sequence[dict[str, Any]] = (),
    previous: bytes | None = None,
    issued: str = "2026-02-01T00:00:00Z",
    revoked: Sequence[dict[str, Any]] = (),
) -> bytes:
    """The signed bytes of one version (entries sorted as the format requires)."""
    return bytes(
        rfc8785.dumps(
            {
                "format": VERSION_FORMAT,
                "version": version,
                "previous_sha256": sha256_bytes(previous) if previous is not None else None,
                "issued": issued,
                "unit": unit,
                "added": sorted(added, key=lambda k: str(k["fingerprint"])),
                "revoked": sorted(revoked, key=lambda k: str(k["fingerprint"])),
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
