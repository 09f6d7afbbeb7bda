"""Reading a register file without trusting it: JSON, every version's form and
canonical bytes, the signatures by the unit key (and by the previous unit key
when it rotates), the chain of SHA-256 links, growth only, and dates. Anything
wrong is one InputError line naming the file. Pure: the caller passes "now".
The format itself is register/format.py's.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import replace
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from custody.base.errors import BadSignature, InputError
from custody.base.keys import MAX_NAME_LENGTH, fingerprint_of
from custody.base.signing import verify_signature
from custody.register.format import (
    CLOCK_SKEW,
    FILE_FORMAT,
    HEX64,
    MAX_VERSIONS,
    REASONS,
    VERSION_FORMAT,
    KeyRegister,
    RegisteredKey,
    RegisterVersion,
    Revocation,
    UnitKey,
)
from custody.register.times import format_time, parse_stored_time
from custody.tlog.entries import is_canonical


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
    if index > 0 and not (isinstance(previous, str) and HEX64.fullmatch(previous)):
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
        try:
            verify_signature(required[fp], sig, version.signed)
        except BadSignature as err:
            raise _Bad(
                f"{where}: the signature by {fp} does not verify (forged or edited)"
            ) from err
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
