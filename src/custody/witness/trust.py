"""The witnesses a verifier chose: $CUSTODY_HOME/witnesses/<fingerprint>.pub.

A witness public key file is custody's usual public key file; its Name: line
is the witness name, the key name its cosignature lines carry.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from custody.base.errors import KeyFileError
from custody.base.fsutil import environment_error, write_new_file
from custody.base.home import witnesses_dir
from custody.base.keys import public_key_file_bytes, read_public_key_file
from custody.tlog.cosignature import WitnessKey, verifier_key
from custody.tlog.note import valid_key_name


@dataclass(frozen=True)
class TrustedWitness:
    name: str
    fingerprint: str
    path: str
    vkey: str
    added: bool

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "fingerprint": self.fingerprint,
            "path": self.path,
            "vkey": self.vkey,
            "added": self.added,
        }


def read_witness_key(path: Path) -> WitnessKey:
    """A witness's public key file. Raises KeyFileError."""
    info = read_public_key_file(path)
    if not valid_key_name(info.name):
        raise KeyFileError(
            f"'{info.name}' is not a witness name (its Name: line must have no spaces or '+')",
            path=str(path),
        )
    return WitnessKey(info.name, info.public_key, info.fingerprint)


def trust_witness(*, home: Path, path: Path) -> TrustedWitness:
    """Add a witness's public key to this verifier's witnesses."""
    key = read_witness_key(path)
    target = witnesses_dir(home) / f"{key.fingerprint}.pub"
    added = True
    try:
        write_new_file(target, public_key_file_bytes(key.name, key.public_key))
    except FileExistsError:
        added = False
    except OSError as e:
        raise environment_error(e, target) from e
    return TrustedWitness(
        key.name, key.fingerprint, str(target), verifier_key(key.name, key.public_key), added
    )


def trusted_witnesses(*, home: Path) -> tuple[WitnessKey, ...]:
    """Every witness in this home's witnesses/ folder (damaged files skipped)."""
    directory = witnesses_dir(home)
    if not directory.is_dir():
        return ()
    found = []
    for path in sorted(directory.glob("*.pub")):
        try:
            key = read_witness_key(path)
        except KeyFileError:
            continue
        if path.stem == key.fingerprint:
            found.append(key)
    return tuple(found)
