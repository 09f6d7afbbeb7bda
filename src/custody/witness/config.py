"""A witness's identity and the logs it accepts, under $CUSTODY_HOME/witness/.

    witness/witness.key   the witness's Ed25519 private key (PKCS#8 PEM, mode 0600)
    witness/witness.pub   its public key file (custody's format; Name: the witness name)
    witness/logs.json     {"logs": {ORIGIN: [{"name", "fingerprint", "public_key"}]}}
    witness/state/        the latest checkpoint cosigned for each log (see state.py)

The private key is not encrypted: a witness is an unattended service, and
its key is protected by the account and file permissions it runs under
(docs/ledger.md, "Running a witness").
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from custody.base.errors import InputError, KeyFileError
from custody.base.fsutil import environment_error, replace_file, write_new_file
from custody.base.home import witness_dir
from custody.base.keys import (
    PublicKeyInfo,
    fingerprint_of,
    key_or_fingerprint,
    parse_public_key_file,
    public_key_file_bytes,
    public_key_pem,
    trusted_keys,
)
from custody.tlog.cosignature import verifier_key
from custody.tlog.note import valid_key_name

MAX_WITNESS_NAME = 200


@dataclass(frozen=True)
class WitnessIdentity:
    """A witness's name and public key, as `witness init` made them."""

    name: str
    fingerprint: str
    public_key_path: Path
    vkey: str

    def to_json(self) -> dict[str, str]:
        return {
            "name": self.name,
            "fingerprint": self.fingerprint,
            "public_key": str(self.public_key_path),
            "vkey": self.vkey,
        }


@dataclass(frozen=True)
class WitnessConfig:
    """Everything `witness serve` needs."""

    name: str
    private_key: Ed25519PrivateKey
    logs: dict[str, tuple[Ed25519PublicKey, ...]]
    state_dir: Path


@dataclass(frozen=True)
class LogAdded:
    origin: str
    key_name: str
    fingerprint: str
    added: bool
    keys: int

    def to_json(self) -> dict[str, object]:
        return {
            "origin": self.origin,
            "key_name": self.key_name,
            "fingerprint": self.fingerprint,
            "added": self.added,
            "keys": self.keys,
        }


def check_witness_name(name: str) -> str:
    """A witness name is a signed-note key name: no spaces, no '+'. A
    schema-less URL such as 'registry.example.org/witness' is recommended."""
    name = name.strip()
    if not valid_key_name(name) or len(name) > MAX_WITNESS_NAME:
        raise InputError(
            "a witness name must be non-empty, at most 200 characters, with no spaces or '+' "
            "(e.g. registry.example.org/witness)"
        )
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in name):
        raise InputError("a witness name must not contain control characters")
    return name


def init_witness(*, home: Path, name: str) -> WitnessIdentity:
    """Create the witness key under home/witness. Never overwrites one.
    Raises InputError, KeyFileError or EnvironmentFailure."""
    name = check_witness_name(name)
    directory = witness_dir(home)
    key_path = directory / "witness.key"
    pub_path = directory / "witness.pub"
    if key_path.exists():
        raise KeyFileError("this home already has a witness key", path=str(key_path))
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    try:
        directory.mkdir(parents=True, exist_ok=True)
        os.chmod(directory, 0o700)
        write_new_file(key_path, pem, mode=0o600)
        replace_file(pub_path, public_key_file_bytes(name, key.public_key()))
    except FileExistsError as e:
        raise KeyFileError("this home already has a witness key", path=str(key_path)) from e
    except OSError as e:
        raise environment_error(e, e.filename or directory) from e
    return WitnessIdentity(
        name, fingerprint_of(key.public_key()), pub_path, verifier_key(name, key.public_key())
    )


def _load_private_key(home: Path) -> tuple[str, Ed25519PrivateKey]:
    directory = witness_dir(home)
    key_path = directory / "witness.key"
    pub_path = directory / "witness.pub"
    try:
        pem = key_path.read_bytes()
        pub = parse_public_key_file(pub_path.read_bytes(), path=pub_path)
    except FileNotFoundError as e:
        raise InputError(
            "no witness here: create one with 'custody witness init --name NAME'",
            path=str(directory),
        ) from e
    except OSError as e:
        raise KeyFileError(e.strerror or "cannot read", path=str(e.filename)) from e
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except Exception as e:  # malformed PEM raises several types
        raise KeyFileError("damaged witness key", path=str(key_path)) from e
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError("not an Ed25519 private key", path=str(key_path))
    if fingerprint_of(key.public_key()) != pub.fingerprint:
        raise KeyFileError("witness.key does not match witness.pub", path=str(key_path))
    return check_witness_name(pub.name), key


def public_key_file(*, home: Path) -> bytes:
    """The witness's public key file (checked against its private key)."""
    name, key = _load_private_key(home)
    return public_key_file_bytes(name, key.public_key())


def _read_logs(home: Path) -> dict[str, list[dict[str, str]]]:
    path = witness_dir(home) / "logs.json"
    try:
        doc = json.loads(path.read_bytes())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as e:
        raise InputError("cannot read the witness's list of logs", path=str(path)) from e
    logs = doc.get("logs") if isinstance(doc, dict) else None
    if not isinstance(logs, dict):
        raise InputError("the witness's list of logs is damaged", path=str(path))
    return logs


def add_log(*, home: Path, origin: str, key: str) -> LogAdded:
    """Accept checkpoints of the log `origin` signed by `key` (a public key
    file, or the fingerprint of a key in this home's trust store)."""
    if not valid_key_name(origin):
        raise InputError("a log origin has no spaces or '+' (see 'custody ledger checkpoint')")
    _load_private_key(home)  # a witness must exist first
    given = key_or_fingerprint(key, option="--key")
    info: PublicKeyInfo | None
    if isinstance(given, PublicKeyInfo):
        info = given
    else:
        info = next((k for k in trusted_keys(home=home) if k.fingerprint == given), None)
        if info is None:
            raise InputError(
                "no key with this fingerprint in the trust store: give the public key file",
                path=key,
            )
    logs = _read_logs(home)
    keys = logs.setdefault(origin, [])
    added = not any(k.get("fingerprint") == info.fingerprint for k in keys)
    if added:
        keys.append(
            {
                "name": info.name,
                "fingerprint": info.fingerprint,
                "public_key": public_key_pem(info.public_key).decode(),
            }
        )
        path = witness_dir(home) / "logs.json"
        data = json.dumps({"logs": logs}, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        try:
            replace_file(path, data.encode())
        except OSError as e:
            raise environment_error(e, path) from e
    return LogAdded(origin, info.name, info.fingerprint, added, len(keys))


class LogsFile:
    """The logs a serving witness accepts, re-read when `add-log` changes
    logs.json (it is replaced atomically), so no restart is needed. A file that
    cannot be read keeps the last good list."""

    def __init__(self, home: Path, initial: dict[str, tuple[Ed25519PublicKey, ...]]) -> None:
        self.home = home
        self._path = witness_dir(home) / "logs.json"
        self._stamp = self._stat()
        self._logs = initial
        self._lock = threading.Lock()

    def _stat(self) -> tuple[int, int, int] | None:
        try:
            st = self._path.stat()
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def __call__(self) -> dict[str, tuple[Ed25519PublicKey, ...]]:
        stamp = self._stat()
        with self._lock:
            if stamp != self._stamp:
                try:
                    self._logs = _parse_logs(self.home)
                    self._stamp = stamp
                except InputError:
                    pass
            return self._logs


def _parse_logs(home: Path) -> dict[str, tuple[Ed25519PublicKey, ...]]:
    logs: dict[str, tuple[Ed25519PublicKey, ...]] = {}
    path = witness_dir(home) / "logs.json"
    for origin, entries in _read_logs(home).items():
        keys = []
        for entry in entries if isinstance(entries, list) else []:
            try:
                pem = str(entry["public_key"]).encode()
                keys.append(parse_public_key_file(pem, path=path).public_key)
            except (KeyError, TypeError, KeyFileError) as e:
                raise InputError(f"a key for {origin} is damaged", path=str(path)) from e
        logs[str(origin)] = tuple(keys)
    return logs


def load_witness(*, home: Path) -> WitnessConfig:
    """The witness under `home`: its key and the logs it accepts."""
    name, key = _load_private_key(home)
    return WitnessConfig(name, key, _parse_logs(home), witness_dir(home) / "state")
