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
docs/keys.md describes the format field by field. Pure: no I/O, no clock (the
caller passes "now").
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import rfc8785
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ..errors import InputError
from ..keys import MAX_NAME_LENGTH, fingerprint_of
from ..ledger.entries import is_canonical, raw_public_key
from ..signing import signature_is_valid
from .times import format_time, parse_stored_time

FILE_FORMAT = "custody/key-register-file/v1"
VERSION_FORMAT = "custody/key-register/v1"
REASONS = ("compromised", "superseded", "retired")
CLOCK_SKEW = timedelta(minutes=10)
"""How far in the future a register's own dates may be before it is refused:
the authority's clock and the verifier's are not the same clock."""
MAX_VERSIONS = 100_000
_HEX64 = re.compile(r"[0-9a-f]{64}")


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


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise ValueError(f"duplicate key '{key}'")
        seen[key] = value
    return seen


class _Bad(Exception):
    """A reason a register is refused (turned into one InputError line)."""


def _str(obj: dict[str, Any], name: str, where: str) -> str:
    value = obj.get(name)
    if not isinstance(value, str):
        raise _Bad(f"{where}: '{name}' missing or not a string")
    return value


def _time(obj: dict[str, Any], name: str, where: str) -> datetime:
    value = parse_stored_time(obj.get(name))
    if value is None:
        raise _Bad(f"{where}: '{name}' is not a time like 2026-03-01T00:00:00Z")
    return value


def _public_key(obj: dict[str, Any], where: str) -> tuple[str, Ed25519PublicKey]:
    fp = _str(obj, "fingerprint", where)
    try:
        raw = base64.b64decode(_str(obj, "public_key", where), validate=True)
        key = Ed25519PublicKey.from_public_bytes(raw)
    except (binascii.Error, ValueError) as e:
        raise _Bad(f"{where}: 'public_key' is not a base64 Ed25519 public key") from e
    if fingerprint_of(key) != fp:
        raise _Bad(f"{where}: fingerprint {fp[:16]} is not that of its public key")
    return fp, key


def _name(obj: dict[str, Any], where: str) -> str:
    name = _str(obj, "name", where)
    if not name.strip() or len(name) > MAX_NAME_LENGTH:
        raise _Bad(f"{where}: 'name' is empty or too long")
    return name


def _revocation(value: dict[str, Any], where: str, issued: datetime) -> Revocation:
    reason = value.get("reason")
    if reason not in REASONS:
        raise _Bad(f"{where}: revocation reason {reason!r} is not one of {', '.join(REASONS)}")
    since = _time(value, "since", where)
    revoked_at = _time(value, "revoked_at", where)
    if revoked_at > issued:
        raise _Bad(
            f"{where}: revocation dated {format_time(revoked_at)}, after the version was "
            f"issued ({format_time(issued)}): dated in the future"
        )
    if since > revoked_at:
        raise _Bad(f"{where}: compromised since {format_time(since)}, after it was revoked")
    if reason != "compromised" and since != revoked_at:
        raise _Bad(f"{where}: a {reason} key's revocation takes effect when it is made")
    return Revocation(str(reason), since, revoked_at)


def _sorted_unique(fingerprints: list[str], where: str, what: str) -> None:
    seen: set[str] = set()
    for fp in fingerprints:
        if fp in seen:
            raise _Bad(f"{where}: fingerprint {fp} is listed twice in '{what}'")
        seen.add(fp)
    if fingerprints != sorted(fingerprints):
        raise _Bad(f"{where}: '{what}' is not sorted by fingerprint")


_VERSION_FIELDS = {"format", "version", "previous_sha256", "issued", "unit", "added", "revoked"}
_ADDED_FIELDS = {"fingerprint", "name", "public_key", "valid_from", "valid_until"}
_REVOKED_FIELDS = {"fingerprint", "reason", "since", "revoked_at"}


def _parse_version(signed: bytes, index: int, now: datetime) -> RegisterVersion:
    where = f"version {index + 1}"
    try:
        obj = json.loads(signed.decode("utf-8"), object_pairs_hook=_no_duplicates)
    except (UnicodeDecodeError, ValueError) as e:
        raise _Bad(f"{where}: signed text is not JSON ({e})") from e
    if not isinstance(obj, dict) or obj.get("format") != VERSION_FORMAT:
        raise _Bad(f"{where}: not a custody key register version")
    if set(obj) != _VERSION_FIELDS:
        raise _Bad(f"{where}: fields must be exactly {', '.join(sorted(_VERSION_FIELDS))}")
    if not is_canonical(obj, signed):
        raise _Bad(f"{where}: signed text is not in canonical (RFC 8785) form")
    number = obj["version"]
    if not isinstance(number, int) or isinstance(number, bool) or number != index + 1:
        raise _Bad(f"{where}: says it is version {number!r}")
    issued = _time(obj, "issued", where)
    if issued > now + CLOCK_SKEW:
        raise _Bad(f"{where}: issued {format_time(issued)}, which is in the future")
    unit_obj = obj["unit"]
    if not isinstance(unit_obj, dict) or set(unit_obj) != {"name", "fingerprint", "public_key"}:
        raise _Bad(f"{where}: 'unit' must be {{name, fingerprint, public_key}}")
    unit_fp, unit_key = _public_key(unit_obj, f"{where} unit")
    unit = UnitKey(_name(unit_obj, f"{where} unit"), unit_fp, unit_key)
    if not isinstance(obj["added"], list) or not isinstance(obj["revoked"], list):
        raise _Bad(f"{where}: 'added' and 'revoked' must be lists")
    added: list[RegisteredKey] = []
    for item in obj["added"]:
        if not isinstance(item, dict) or set(item) != _ADDED_FIELDS:
            raise _Bad(f"{where}: each added key must be {{{', '.join(sorted(_ADDED_FIELDS))}}}")
        fp, key = _public_key(item, f"{where} key")
        kw = f"{where} key {fp[:16]}"
        valid_from = _time(item, "valid_from", kw)
        valid_until = _time(item, "valid_until", kw)
        if valid_until < valid_from:
            raise _Bad(
                f"{kw}: valid_until {format_time(valid_until)} is before valid_from "
                f"{format_time(valid_from)}"
            )
        added.append(RegisteredKey(fp, _name(item, kw), key, valid_from, valid_until))
    _sorted_unique([k.fingerprint for k in added], where, "added")
    revoked: list[tuple[str, Revocation]] = []
    for item in obj["revoked"]:
        if not isinstance(item, dict) or set(item) != _REVOKED_FIELDS:
            raise _Bad(f"{where}: each revocation must be {{{', '.join(sorted(_REVOKED_FIELDS))}}}")
        fp = _str(item, "fingerprint", where)
        revoked.append((fp, _revocation(item, f"{where} revocation of {fp[:16]}", issued)))
    _sorted_unique([fp for fp, _ in revoked], where, "revoked")
    previous = obj["previous_sha256"]
    if index == 0 and previous is not None:
        raise _Bad(f"{where}: the first version names a previous one")
    if index > 0 and not (isinstance(previous, str) and _HEX64.fullmatch(previous)):
        raise _Bad(f"{where}: 'previous_sha256' is not a SHA-256")
    return RegisterVersion(
        version=number,
        signed=signed,
        sha256=hashlib.sha256(signed).hexdigest(),
        previous_sha256=previous,
        issued=issued,
        unit=unit,
        added=tuple(added),
        revoked=tuple(revoked),
        signatures=(),
    )


def _check_link(old: RegisterVersion, new: RegisterVersion) -> None:
    where = f"version {new.version}"
    if new.previous_sha256 != old.sha256:
        raise _Bad(f"{where} does not name version {old.version}'s SHA-256 as its previous")
    if new.issued < old.issued:
        raise _Bad(f"{where} was issued before version {old.version}")


def _apply(state: dict[str, RegisteredKey], version: RegisterVersion) -> None:
    """Fold one version into the state: certify, then revoke."""
    where = f"version {version.version}"
    for key in version.added:
        if key.fingerprint in state:
            raise _Bad(f"{where}: fingerprint {key.fingerprint} is listed twice in the register")
        state[key.fingerprint] = key
    for fp, revocation in version.revoked:
        listed = state.get(fp)
        if listed is None:
            raise _Bad(f"{where} revokes key {fp}, which the register does not list")
        if listed.revocation is not None:
            raise _Bad(f"{where} revokes key {fp} again (a revocation never changes)")
        state[fp] = replace(listed, revocation=revocation)


def _check_signatures(
    version: RegisterVersion, entries: Any, previous: RegisterVersion | None
) -> tuple[tuple[str, bytes], ...]:
    where = f"version {version.version}"
    required = {version.unit.fingerprint: version.unit.public_key}
    if previous is not None and previous.unit.fingerprint != version.unit.fingerprint:
        required[previous.unit.fingerprint] = previous.unit.public_key  # a rotation
    if not isinstance(entries, list):
        raise _Bad(f"{where}: 'signatures' is not a list")
    found: list[tuple[str, bytes]] = []
    for e in entries:
        if not isinstance(e, dict) or set(e) != {"fingerprint", "signature"}:
            raise _Bad(f"{where}: each signature must be {{fingerprint, signature}}")
        fp = e.get("fingerprint")
        if fp not in required:
            raise _Bad(f"{where} is signed by unknown key {fp}, not by the unit key")
        try:
            sig = base64.b64decode(str(e.get("signature")), validate=True)
        except binascii.Error as err:
            raise _Bad(f"{where}: signature is not base64") from err
        if not signature_is_valid(required[fp], sig, version.signed):
            raise _Bad(f"{where}: the signature by {fp} does not verify (forged or edited)")
        found.append((fp, sig))
    for fp in required:
        if fp not in {f for f, _ in found}:
            what = "the previous unit key" if fp != version.unit.fingerprint else "its unit key"
            raise _Bad(f"{where} is not signed by {what} {fp}")
    return tuple(found)


def parse_register(data: bytes, *, source: str | None, now: datetime) -> KeyRegister:
    """Read and check a register file completely: JSON, every version's form,
    signatures, the chain of SHA-256 links and rotations, growth, and dates.
    Raises InputError (one line naming `source`) for anything wrong."""
    try:
        return _parse(data, source=source, now=now)
    except _Bad as e:
        raise InputError(f"not a valid key register: {e}", path=source) from e


def _parse(data: bytes, *, source: str | None, now: datetime) -> KeyRegister:
    try:
        doc = json.loads(data.decode("utf-8"), object_pairs_hook=_no_duplicates)
    except UnicodeDecodeError as e:
        raise _Bad("not UTF-8") from e
    except json.JSONDecodeError as e:
        raise _Bad(f"not JSON, or truncated ({e.msg} at byte {e.pos})") from e
    except ValueError as e:
        raise _Bad(str(e)) from e
    if not isinstance(doc, dict) or doc.get("format") != FILE_FORMAT:
        raise _Bad(f"not a custody key register (format must be {FILE_FORMAT})")
    entries = doc.get("versions")
    if not isinstance(entries, list) or not entries:
        raise _Bad("'versions' is missing or empty")
    if len(entries) > MAX_VERSIONS:
        raise _Bad(f"more than {MAX_VERSIONS} versions")
    versions: list[RegisterVersion] = []
    state: dict[str, RegisteredKey] = {}
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict) or set(entry) != {"signed", "signatures"}:
            raise _Bad(f"version {index + 1}: must be {{signed, signatures}}")
        signed = entry.get("signed")
        if not isinstance(signed, str):
            raise _Bad(f"version {index + 1}: 'signed' is not a string")
        try:
            signed_bytes = signed.encode("utf-8")
        except UnicodeEncodeError as e:
            raise _Bad(f"version {index + 1}: 'signed' is not valid Unicode") from e
        version = _parse_version(signed_bytes, index, now)
        previous = versions[-1] if versions else None
        if previous is not None:
            _check_link(previous, version)
        sigs = _check_signatures(version, entry.get("signatures"), previous)
        _apply(state, version)
        versions.append(replace(version, signatures=sigs))
    keys = tuple(state[fp] for fp in sorted(state))
    return KeyRegister(tuple(versions), data, keys, source)


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
