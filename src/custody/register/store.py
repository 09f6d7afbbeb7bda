"""The registers a verifier trusts: $CUSTODY_HOME/registers/<register id>.json.

Each file holds the exact bytes of the newest register file accepted for that
register (the id is the fingerprint of its first unit key). A later file is
accepted only when it extends the stored one: the stored versions are a
prefix of the new file's, so the new versions are signed by the unit key or a
rotation chain from it. Writes are atomic and serialised by a lock.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from custody.base.errors import InputError
from custody.base.fsutil import environment_error, exclusive_lock, replace_file
from custody.base.home import registers_dir
from custody.register.format import KeyRegister, compare_registers
from custody.register.parse import parse_register


def read_register_file(path: Path, *, now: datetime) -> KeyRegister:
    """Read and check a register file. Raises InputError naming the file."""
    try:
        data = path.read_bytes()
    except FileNotFoundError as e:
        raise InputError("no such file", path=str(path)) from e
    except IsADirectoryError as e:
        raise InputError("is a directory, not a register file", path=str(path)) from e
    except OSError as e:
        raise InputError(e.strerror or "cannot read", path=str(path)) from e
    return parse_register(data, source=str(path), now=now)


def trusted_registers(*, home: Path, now: datetime) -> tuple[KeyRegister, ...]:
    """Every register this verifier trusts. A damaged stored register is an
    error, not skipped: skipping it would silently forget its revocations."""
    directory = registers_dir(home)
    if not directory.is_dir():
        return ()
    found = []
    for path in sorted(directory.glob("*.json")):
        register = read_register_file(path, now=now)
        if path.stem != register.register_id:
            raise InputError("stored register is filed under another id", path=str(path))
        found.append(register)
    return tuple(found)


def stored_register(*, home: Path, register_id: str, now: datetime) -> KeyRegister | None:
    path = registers_dir(home) / f"{register_id}.json"
    if not path.exists():
        return None
    return read_register_file(path, now=now)


def _locked(home: Path) -> AbstractContextManager[None]:
    return exclusive_lock(registers_dir(home) / ".lock", mode=0o644)


@dataclass(frozen=True)
class TrustRegisterResult:
    """What `custody keys trust-register` did."""

    register: KeyRegister
    outcome: str  # "added", "updated" or "unchanged"
    previous_version: int | None
    path: Path

    def to_json(self) -> dict[str, object]:
        r = self.register
        return {
            "register": str(self.path),
            "unit": r.unit.name,
            "unit_fingerprint": r.unit.fingerprint,
            "register_id": r.register_id,
            "version": r.version,
            "previous_version": self.previous_version,
            "outcome": self.outcome,
            "keys": len(r.keys),
        }


def check_against_stored(*, home: Path, register: KeyRegister, now: datetime) -> str | None:
    """'same' or 'extends' when this verifier already trusts the register, None
    when it is new here. Raises InputError for a rollback or a fork."""
    stored = stored_register(home=home, register_id=register.register_id, now=now)
    if stored is None:
        return None
    return compare_registers(stored, register)


def trust_register(
    *,
    home: Path,
    register: KeyRegister,
    fingerprint: str | None,
    confirmed: bool,
    now: datetime,
) -> TrustRegisterResult:
    """Store `register` as trusted. The first time, its current unit key must
    have been confirmed by a person (`confirmed`) or given as `fingerprint`.
    Later, the file must extend the stored version (a `fingerprint` given then
    may be any unit key of its rotation chain). Raises InputError; stores
    nothing on any error."""
    path = registers_dir(home) / f"{register.register_id}.json"
    with _locked(home):
        stored = stored_register(home=home, register_id=register.register_id, now=now)
        accepted = (
            register.unit_fingerprints if stored is not None else (register.unit.fingerprint,)
        )
        if fingerprint is not None and fingerprint not in accepted:
            raise InputError(
                f"signed by unit key {register.unit.fingerprint}, not by the key "
                f"{fingerprint} you gave; not trusted",
                path=register.source,
            )
        if stored is None and fingerprint is None and not confirmed:
            raise InputError(
                "first use of this register: confirm its unit key on a terminal or give "
                "--fingerprint",
                path=register.source,
            )
        outcome = "added" if stored is None else compare_registers(stored, register)
        if outcome == "extends":
            outcome = "updated"
        if outcome != "same":
            try:
                replace_file(path, register.data)
            except OSError as e:
                raise environment_error(e, path) from e
        else:
            outcome = "unchanged"
    return TrustRegisterResult(
        register, outcome, stored.version if stored is not None else None, path
    )
