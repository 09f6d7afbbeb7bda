"""The unit's key authority: the unit key, and the register it signs.

Layout under $CUSTODY_HOME/authority (mode 0700):
  unit-<fingerprint>.key   the unit key: PKCS#8 PEM encrypted with a passphrase, mode 0600
  unit-<fingerprint>.pub   its public key file
  register.json            the register as it stands: every version, each signed

Every action (init, add, revoke, rotate, export) makes the register one version
longer (export excepted) and is an entry in this home's ledger, signed by the
unit key. Read-modify-write is serialised by a lock; the register file is
replaced atomically, so a crash leaves the old register or the new one.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from custody.base.errors import InputError, KeyFileError
from custody.base.fsutil import environment_error, exclusive_lock, replace_file, write_new_file
from custody.base.hashing import sha256_bytes
from custody.base.home import authority_dir
from custody.base.keys import (
    KeyPair,
    PublicKeyInfo,
    check_name,
    fingerprint_of,
    load_private_key,
    normalise_fingerprint,
    public_key_file_bytes,
)
from custody.io.ledger_store import Ledger
from custody.register.format import (
    REASONS,
    KeyRegister,
    RegisteredKey,
    Revocation,
    UnitKey,
    register_file_bytes,
    version_bytes,
)
from custody.register.parse import parse_register
from custody.register.times import add_years, format_time

DEFAULT_VALIDITY_YEARS = 3


def _register_path(home: Path) -> Path:
    return authority_dir(home) / "register.json"


@dataclass(frozen=True)
class AuthorityResult:
    """What an authority action did: the register after it, and the details."""

    action: str
    register: KeyRegister
    details: dict[str, Any]
    ledger_index: int

    def to_json(self) -> dict[str, Any]:
        r = self.register
        return {
            "action": self.action,
            "unit": r.unit.name,
            "unit_fingerprint": r.unit.fingerprint,
            "register_id": r.register_id,
            "version": r.version,
            "ledger_index": self.ledger_index,
            **self.details,
        }


@contextmanager
def _locked(home: Path) -> Iterator[None]:
    directory = authority_dir(home)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        os.chmod(directory, 0o700)
    except OSError as e:
        raise environment_error(e, directory) from e
    with exclusive_lock(directory / ".lock"):
        yield


def _key_pair(home: Path, unit: UnitKey) -> KeyPair:
    directory = authority_dir(home)
    return KeyPair(
        key_id=f"unit-{unit.fingerprint[:16]}",
        name=unit.name,
        fingerprint=unit.fingerprint,
        private_key_path=directory / f"unit-{unit.fingerprint}.key",
        public_key_path=directory / f"unit-{unit.fingerprint}.pub",
        encrypted=True,
    )


def _new_unit_key(home: Path, name: str, passphrase: bytes) -> tuple[UnitKey, Ed25519PrivateKey]:
    """Make and store a unit key, protected like an officer key (base/keys.py)."""
    if not passphrase:
        raise KeyFileError("the unit key needs a passphrase")
    private_key = Ed25519PrivateKey.generate()
    public_key = private_key.public_key()
    unit = UnitKey(name, fingerprint_of(public_key), public_key)
    pair = _key_pair(home, unit)
    pem = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(passphrase),
    )
    try:
        write_new_file(pair.private_key_path, pem, mode=0o600)
        write_new_file(pair.public_key_path, public_key_file_bytes(name, public_key))
    except OSError as e:
        raise environment_error(e, pair.private_key_path) from e
    return unit, private_key


def load_authority(*, home: Path, now: datetime) -> KeyRegister:
    """The authority's register. Raises InputError when there is none here."""
    path = _register_path(home)
    try:
        data = path.read_bytes()
    except FileNotFoundError as e:
        raise InputError(
            "no unit key authority here: create one with 'custody authority init'",
            path=str(authority_dir(home)),
        ) from e
    except OSError as e:
        raise InputError(e.strerror or "cannot read", path=str(path)) from e
    return parse_register(data, source=str(path), now=now)


def _unlock(home: Path, unit: UnitKey, passphrase: bytes) -> Ed25519PrivateKey:
    return load_private_key(_key_pair(home, unit), passphrase)


def _write_version(
    home: Path,
    register: KeyRegister | None,
    *,
    unit: UnitKey,
    signers: Sequence[Ed25519PrivateKey],
    issued: datetime,
    now: datetime,
    added: Sequence[RegisteredKey] = (),
    revoked: Sequence[tuple[str, Revocation]] = (),
) -> KeyRegister:
    previous = register.latest if register is not None else None
    signed = version_bytes(
        version=previous.version + 1 if previous else 1,
        previous_sha256=previous.sha256 if previous else None,
        issued=issued,
        unit=unit,
        added=added,
        revoked=revoked,
    )
    versions: list[tuple[bytes, Sequence[tuple[str, bytes]]]] = [
        (v.signed, v.signatures) for v in (register.versions if register else ())
    ]
    versions.append((signed, [(fingerprint_of(k.public_key()), k.sign(signed)) for k in signers]))
    data = register_file_bytes(versions)
    path = _register_path(home)
    new = parse_register(data, source=str(path), now=now)  # what is written must read back
    try:
        replace_file(path, data)
    except OSError as e:
        raise environment_error(e, path) from e
    return new


def _record(
    home: Path, action: str, key: Ed25519PrivateKey, unit: UnitKey, subject: dict[str, Any]
) -> int:
    with Ledger.open(home) as ledger:
        appended = ledger.append(
            action=action,
            subject=subject,
            signer=key,
            signer_name=unit.name,
            time=format_time(datetime.now().astimezone()),
        )
    return appended.index


def _issue_time(register: KeyRegister, now: datetime) -> datetime:
    # A version is never dated before the one it follows, even if the clock went back.
    return max(now.replace(microsecond=0), register.latest.issued)


def init_authority(*, home: Path, name: str, passphrase: bytes, now: datetime) -> AuthorityResult:
    """Create the unit key and version 1 of its (empty) register."""
    name = check_name(name)
    with _locked(home):
        if _register_path(home).exists():
            raise InputError(
                "a unit key authority already exists here", path=str(_register_path(home))
            )
        unit, key = _new_unit_key(home, name, passphrase)
        index = _record(home, "authority-init", key, unit, {"name": name, **_unit_json(unit)})
        register = _write_version(
            home,
            None,
            unit=unit,
            signers=(key,),
            issued=now.replace(microsecond=0),
            now=now,
        )
    return AuthorityResult(
        "init", register, {"public_key_file": str(_key_pair(home, unit).public_key_path)}, index
    )


def _unit_json(unit: UnitKey) -> dict[str, str]:
    return {"unit_fingerprint": unit.fingerprint}


def certify_key(
    *,
    home: Path,
    info: PublicKeyInfo,
    valid_from: datetime | None,
    valid_until: datetime | None,
    passphrase: bytes,
    now: datetime,
) -> AuthorityResult:
    """Add an officer key to the register, valid from `valid_from` (default now)
    until `valid_until` (default three years after valid_from)."""
    start = (valid_from or now).replace(microsecond=0)
    end = (valid_until or add_years(start, DEFAULT_VALIDITY_YEARS)).replace(microsecond=0)
    if end < start:
        raise InputError(
            f"--valid-until {format_time(end)} is before --valid-from {format_time(start)}"
        )
    name = check_name(info.name)
    with _locked(home):
        register = load_authority(home=home, now=now)
        if register.key(info.fingerprint) is not None:
            raise InputError(
                f"key {info.fingerprint} is already in the register (a key is certified once)",
                path=str(info.path) if info.path else None,
            )
        unit = register.unit
        key = _unlock(home, unit, passphrase)
        entry = RegisteredKey(info.fingerprint, name, info.public_key, start, end)
        details = {
            "fingerprint": info.fingerprint,
            "name": name,
            "valid_from": format_time(start),
            "valid_until": format_time(end),
        }
        index = _record(home, "authority-add", key, unit, dict(details))
        register = _write_version(
            home,
            register,
            unit=unit,
            added=(entry,),
            signers=(key,),
            issued=_issue_time(register, now),
            now=now,
        )
    return AuthorityResult("add", register, details, index)


def find_listed(register: KeyRegister, value: str) -> RegisteredKey:
    """A key in the register by full fingerprint, or a unique prefix of 8 or more
    hex digits. Raises InputError."""
    full = normalise_fingerprint(value)
    cleaned = "".join(c for c in value.lower() if c not in " :")
    matches = [
        k
        for k in register.keys
        if k.fingerprint == full or (len(cleaned) >= 8 and k.fingerprint.startswith(cleaned))
    ]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise InputError(f"no key {value} in the register (see 'custody authority export')")
    raise InputError(f"'{value}' matches several keys in the register; give all 64 digits")


def revoke_key(
    *,
    home: Path,
    fingerprint: str,
    reason: str,
    since: datetime | None,
    passphrase: bytes,
    now: datetime,
) -> AuthorityResult:
    """Revoke a listed key. For `compromised`, `since` is when the key may first
    have been in other hands (default now); the other reasons take effect at the
    time of the revocation and take no `since`."""
    if reason not in REASONS:
        raise InputError(f"--reason must be one of {', '.join(REASONS)}")
    if since is not None and reason != "compromised":
        raise InputError(f"--since applies to --reason compromised only, not {reason}")
    with _locked(home):
        register = load_authority(home=home, now=now)
        listed = find_listed(register, fingerprint)
        if listed.revocation is not None:
            raise InputError(
                f"key {listed.fingerprint} is already revoked "
                f"({listed.revocation.reason}, {format_time(listed.revocation.revoked_at)})"
            )
        issued = _issue_time(register, now)
        effective = (since or issued).replace(microsecond=0)
        if effective > issued:
            raise InputError(f"--since {format_time(effective)} is in the future")
        unit = register.unit
        key = _unlock(home, unit, passphrase)
        revocation = Revocation(reason, effective, issued)
        details = {"fingerprint": listed.fingerprint, "name": listed.name, **revocation.to_json()}
        index = _record(home, "authority-revoke", key, unit, dict(details))
        register = _write_version(
            home,
            register,
            unit=unit,
            revoked=((listed.fingerprint, revocation),),
            signers=(key,),
            issued=issued,
            now=now,
        )
    return AuthorityResult("revoke", register, details, index)


def rotate_unit_key(
    *, home: Path, passphrase: bytes, new_passphrase: bytes, now: datetime
) -> AuthorityResult:
    """Make a new unit key and a version announcing it, signed by the old and
    the new unit key. The old key's files are kept."""
    with _locked(home):
        register = load_authority(home=home, now=now)
        old_unit = register.unit
        old_key = _unlock(home, old_unit, passphrase)
        new_unit, new_key = _new_unit_key(home, old_unit.name, new_passphrase)
        details = {
            "old_unit_fingerprint": old_unit.fingerprint,
            "new_unit_fingerprint": new_unit.fingerprint,
            "public_key_file": str(_key_pair(home, new_unit).public_key_path),
        }
        subject = {k: v for k, v in details.items() if k != "public_key_file"}
        _record(home, "authority-rotate", old_key, old_unit, subject)
        index = _record(home, "authority-rotate", new_key, new_unit, subject)
        register = _write_version(
            home,
            register,
            unit=new_unit,
            signers=(old_key, new_key),
            issued=_issue_time(register, now),
            now=now,
        )
    return AuthorityResult("rotate", register, details, index)


def export_register(
    *, home: Path, output: Path | None, passphrase: bytes, now: datetime
) -> tuple[AuthorityResult, bytes]:
    """The register file to publish; written atomically to `output` when given
    (an older export there is replaced: it is a prefix of this one)."""
    register = load_authority(home=home, now=now)
    key = _unlock(home, register.unit, passphrase)
    details: dict[str, Any] = {
        "output": str(output) if output is not None else None,
        "sha256": sha256_bytes(register.data),
        "keys": len(register.keys),
    }
    index = _record(
        home,
        "authority-export",
        key,
        register.unit,
        {"version": register.version, "sha256": details["sha256"], "keys": details["keys"]},
    )
    if output is not None:
        try:
            replace_file(output, register.data)
        except OSError as e:
            raise environment_error(e, output) from e
    return AuthorityResult("export", register, details, index), register.data
