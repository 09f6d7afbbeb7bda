"""The register file: every version of the unit's key register, each signed.

A register file is JSON (not itself signed) holding a list of versions. Each
version is the exact RFC 8785 text that was signed, kept as a string, with
detached Ed25519 signatures by the unit key (and, when a version rotates the
unit key, by the previous unit key too). Each version names the SHA-256 of the
previous version's signed bytes and says what it adds: officer keys certified
and keys revoked. The register's state (every key with its validity and any
revocation) is all versions taken in order, so it only grows: nothing can be
removed, and each key is certified once and revoked at most once. Growing by
changes keeps a register of hundreds of actions small and quick to check.
docs/keys.md describes the format field by field; register/parse.py reads and
checks a register file. Pure: no I/O, no clock (the caller passes "now").
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import rfc8785
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from custody.base.errors import InputError
from custody.register.times import format_time
from custody.tlog.entries import raw_public_key

FILE_FORMAT = "custody/key-register-file/v1"
VERSION_FORMAT = "custody/key-register/v1"
REASONS = ("compromised", "superseded", "retired")
CLOCK_SKEW = timedelta(minutes=10)
"""How far in the future a register's own dates may be before it is refused:
the authority's clock and the verifier's are not the same clock."""
MAX_VERSIONS = 100_000
HEX64 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class Revocation:
    """A revocation: why, from when it takes effect, and when it was made."""

    reason: str
    since: datetime
    revoked_at: datetime

    @property
    def effective(self) -> datetime:
        """When the key stops being acceptable: `since` (which, for superseded and
        retired keys, is the time of the revocation itself)."""
        return self.since

    def to_json(self) -> dict[str, str]:
        return {
            "reason": self.reason,
            "since": format_time(self.since),
            "revoked_at": format_time(self.revoked_at),
        }


@dataclass(frozen=True)
class RegisteredKey:
    """One officer key as the register certifies it."""

    fingerprint: str
    name: str
    public_key: Ed25519PublicKey
    valid_from: datetime
    valid_until: datetime
    revocation: Revocation | None = None

    def certification(self) -> dict[str, str]:
        """The key as a version's `added` lists it."""
        return {
            "fingerprint": self.fingerprint,
            "name": self.name,
            "public_key": _b64_key(self.public_key),
            "valid_from": format_time(self.valid_from),
            "valid_until": format_time(self.valid_until),
        }

    def to_json(self) -> dict[str, Any]:
        """The key as the register's state has it, revocation included."""
        return {
            **self.certification(),
            "revocation": self.revocation.to_json() if self.revocation else None,
        }


@dataclass(frozen=True)
class UnitKey:
    """The unit's key: the one that signs the register."""

    name: str
    fingerprint: str
    public_key: Ed25519PublicKey

    def to_json(self) -> dict[str, str]:
        return {
            "name": self.name,
            "fingerprint": self.fingerprint,
            "public_key": _b64_key(self.public_key),
        }


@dataclass(frozen=True)
class RegisterVersion:
    """One signed version of the register."""

    version: int
    signed: bytes
    sha256: str
    previous_sha256: str | None
    issued: datetime
    unit: UnitKey
    added: tuple[RegisteredKey, ...]
    revoked: tuple[tuple[str, Revocation], ...]
    signatures: tuple[tuple[str, bytes], ...]


@dataclass(frozen=True)
class KeyRegister:
    """A register whose every version checked out. `data` is the file's bytes;
    `keys` the state after the last version, sorted by fingerprint."""

    versions: tuple[RegisterVersion, ...]
    data: bytes
    keys: tuple[RegisteredKey, ...] = ()
    source: str | None = None

    @property
    def register_id(self) -> str:
        """The fingerprint of the first unit key: the register's name for life."""
        return self.versions[0].unit.fingerprint

    @property
    def latest(self) -> RegisterVersion:
        return self.versions[-1]

    @property
    def version(self) -> int:
        return self.latest.version

    @property
    def unit(self) -> UnitKey:
        return self.latest.unit

    @property
    def unit_fingerprints(self) -> tuple[str, ...]:
        """Every unit key of the rotation chain, oldest first."""
        seen: list[str] = []
        for v in self.versions:
            if v.unit.fingerprint not in seen:
                seen.append(v.unit.fingerprint)
        return tuple(seen)

    def key(self, fingerprint: object) -> RegisteredKey | None:
        for k in self.keys:
            if k.fingerprint == fingerprint:
                return k
        return None

    def label(self) -> str:
        return f"{self.unit.name} register v{self.version}"

    def ref(self) -> dict[str, Any]:
        """What verify --json names as `signer.register`."""
        return {
            "unit": self.unit.name,
            "unit_fingerprint": self.unit.fingerprint,
            "version": self.version,
            "register_id": self.register_id,
        }


def _b64_key(public_key: Ed25519PublicKey) -> str:
    return base64.b64encode(raw_public_key(public_key)).decode()


def version_bytes(
    *,
    version: int,
    previous_sha256: str | None,
    issued: datetime,
    unit: UnitKey,
    added: Sequence[RegisteredKey] = (),
    revoked: Sequence[tuple[str, Revocation]] = (),
) -> bytes:
    """The canonical (RFC 8785) bytes of one register version: what is signed."""
    return bytes(
        rfc8785.dumps(
            {
                "format": VERSION_FORMAT,
                "version": version,
                "previous_sha256": previous_sha256,
                "issued": format_time(issued),
                "unit": unit.to_json(),
                "added": [k.certification() for k in sorted(added, key=lambda k: k.fingerprint)],
                "revoked": [
                    {"fingerprint": fp, **r.to_json()} for fp, r in sorted(revoked, key=_first)
                ],
            }
        )
    )


def _first(pair: tuple[str, Revocation]) -> str:
    return pair[0]


def register_file_bytes(versions: Sequence[tuple[bytes, Sequence[tuple[str, bytes]]]]) -> bytes:
    """The register file for (signed bytes, [(fingerprint, signature)]) versions."""
    doc = {
        "format": FILE_FORMAT,
        "versions": [
            {
                "signed": signed.decode("utf-8"),
                "signatures": [
                    {"fingerprint": fp, "signature": base64.b64encode(sig).decode()}
                    for fp, sig in sigs
                ],
            }
            for signed, sigs in versions
        ],
    }
    return (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def compare_registers(stored: KeyRegister, new: KeyRegister) -> str:
    """How `new` relates to `stored` (both of the same register): 'same',
    'extends', or raises InputError naming both versions for a rollback or a fork."""
    for old_v, new_v in zip(stored.versions, new.versions, strict=False):
        if old_v.sha256 != new_v.sha256:
            raise InputError(
                f"register fork: its version {new_v.version} (SHA-256 {new_v.sha256[:16]}) "
                f"differs from the trusted version {old_v.version} (SHA-256 "
                f"{old_v.sha256[:16]}); refused",
                path=new.source,
            )
    if len(new.versions) < len(stored.versions):
        raise InputError(
            f"register rollback: version {new.version} is older than the trusted version "
            f"{stored.version}; refused",
            path=new.source,
        )
    return "same" if len(new.versions) == len(stored.versions) else "extends"
