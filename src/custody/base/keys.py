"""Ed25519 keys: generate, store, find, load, fingerprint, and the trust store.

Layout under $CUSTODY_HOME (docs/keys.md):
  keys/<id>.key    PKCS#8 PEM private key, encrypted with a passphrase, mode 0600
  keys/<id>.pub    public key file: a few 'Label: value' lines, then SPKI PEM
  trust/<fingerprint>.pub   public keys this user trusts, same format
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from custody.base.errors import InputError, KeyFileError
from custody.base.fsutil import environment_error, write_new_file
from custody.base.home import keys_dir, trust_dir

MAX_NAME_LENGTH = 200
_PEM_BEGIN = b"-----BEGIN "


@dataclass(frozen=True)
class PublicKeyInfo:
    """A public key with the name its holder gave it."""

    name: str
    fingerprint: str
    public_key: Ed25519PublicKey
    path: Path | None = None

    @property
    def pem(self) -> bytes:
        return public_key_pem(self.public_key)


@dataclass(frozen=True)
class KeyPair:
    """One of this user's own keys: where it lives and whose it is."""

    key_id: str
    name: str
    fingerprint: str
    private_key_path: Path
    public_key_path: Path
    encrypted: bool


@dataclass(frozen=True)
class Signer:
    """An unlocked key and the name of its holder."""

    name: str
    key: Ed25519PrivateKey

    @property
    def fingerprint(self) -> str:
        return fingerprint_of(self.key.public_key())


def fingerprint_of(public_key: Ed25519PublicKey) -> str:
    """SHA-256 of the raw 32-byte public key, 64 lowercase hex digits."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def format_fingerprint(fingerprint: str) -> str:
    """A fingerprint in groups of four hex digits, for reading aloud and comparing."""
    return " ".join(fingerprint[i : i + 4] for i in range(0, len(fingerprint), 4))


def short_fingerprint(fingerprint: str) -> str:
    """The first 16 hex digits in groups, for tables."""
    return format_fingerprint(fingerprint[:16])


def normalise_fingerprint(text: str) -> str | None:
    """Parse a fingerprint typed or pasted by a person: spaces, colons and a
    'SHA256:' prefix are ignored; returns 64 lowercase hex digits or None."""
    cleaned = text.strip()
    if cleaned.lower().startswith("sha256:"):
        cleaned = cleaned[7:]
    cleaned = re.sub(r"[\s:]", "", cleaned).lower()
    if re.fullmatch(r"[0-9a-f]{64}", cleaned):
        return cleaned
    return None


def key_or_fingerprint(value: str, *, option: str) -> PublicKeyInfo | str:
    """What a user gave for a key: an existing public key file (read and checked),
    or a full fingerprint (normalised). Raises KeyFileError for a bad key file,
    InputError for anything else, naming the option."""
    path = Path(value)
    if path.exists():
        return read_public_key_file(path)
    fp = normalise_fingerprint(value)
    if fp is None:
        raise InputError(
            f"{option} takes a public key file or a full 64-digit fingerprint", path=value
        )
    return fp


def public_key_pem(public_key: Ed25519PublicKey) -> bytes:
    """SubjectPublicKeyInfo PEM, the form openssl reads."""
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def public_key_file_bytes(name: str, public_key: Ed25519PublicKey) -> bytes:
    """The public key file custody writes: explanatory lines (RFC 7468 allows
    text before the PEM block, and openssl skips it), then the PEM."""
    fp = fingerprint_of(public_key)
    header = f"custody public key (Ed25519)\nName: {name}\nFingerprint: {format_fingerprint(fp)}\n"
    return header.encode("utf-8") + public_key_pem(public_key)


def check_name(name: str) -> str:
    """Validate a key holder's name; returns it stripped. Raises KeyFileError."""
    name = name.strip()
    if not name:
        raise KeyFileError("a key needs a name (--name)")
    if len(name) > MAX_NAME_LENGTH:
        raise KeyFileError(f"name is longer than {MAX_NAME_LENGTH} characters")
    if any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in name):
        raise KeyFileError("name contains control characters")
    if any(0xD800 <= ord(c) <= 0xDFFF for c in name):
        # What Python makes of bytes that are not UTF-8 in an argument: the name is
        # written into UTF-8 key files, statements and the ledger.
        raise KeyFileError("name is not valid UTF-8")
    return name


def key_id_for(name: str) -> str:
    """A file-name-safe identifier derived from a key's name."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:64].strip("-")
    return slug or "key"


def parse_public_key_file(data: bytes, *, path: Path | None = None) -> PublicKeyInfo:
    """Read a public key file (custody's own, or plain PEM from openssl).

    Raises KeyFileError when it holds no Ed25519 public key.
    """
    where = str(path) if path else None
    start = data.find(_PEM_BEGIN)
    if start < 0:
        raise KeyFileError("not a PEM public key file", path=where)
    name = None
    for line in data[:start].decode("utf-8", "replace").splitlines():
        if line.startswith("Name:"):
            name = line[5:].strip()
    try:
        key = serialization.load_pem_public_key(data[start:])
    except UnsupportedAlgorithm as e:
        # A damaged algorithm identifier names a key type nobody knows.
        raise KeyFileError("not an Ed25519 public key (unknown key type)", path=where) from e
    except (ValueError, TypeError) as e:
        raise KeyFileError("damaged public key file", path=where) from e
    if not isinstance(key, Ed25519PublicKey):
        raise KeyFileError("not an Ed25519 public key", path=where)
    fp = fingerprint_of(key)
    if not name:
        name = path.stem if path else fp[:16]
    return PublicKeyInfo(name=name, fingerprint=fp, public_key=key, path=path)


def read_public_key_file(path: Path) -> PublicKeyInfo:
    """Load a public key file from disk. Raises KeyFileError."""
    try:
        data = path.read_bytes()
    except FileNotFoundError as e:
        raise KeyFileError("no such file", path=str(path)) from e
    except IsADirectoryError as e:
        raise KeyFileError("is a directory, not a key file", path=str(path)) from e
    except OSError as e:
        raise KeyFileError(e.strerror or "cannot read", path=str(path)) from e
    return parse_public_key_file(data, path=path)


def generate_key(
    *, home: Path, name: str, passphrase: bytes | None
) -> tuple[KeyPair, Ed25519PrivateKey]:
    """Make a new Ed25519 key pair under home/keys and trust its public key.

    The private key is PKCS#8 PEM encrypted with `passphrase` (None only when
    the caller explicitly asked for no passphrase), mode 0600. Never overwrites.
    Returns the key pair's description and the private key (for signing the
    ledger entry that records it). Raises KeyFileError (name taken, empty
    passphrase) or EnvironmentFailure.
    """
    name = check_name(name)
    if passphrase is not None and len(passphrase) == 0:
        raise KeyFileError("empty passphrase: give one, or ask for --no-passphrase")
    key_id = key_id_for(name)
    directory = keys_dir(home)
    priv_path = directory / f"{key_id}.key"
    pub_path = directory / f"{key_id}.pub"
    if priv_path.exists() or pub_path.exists():
        raise KeyFileError(f"a key with id '{key_id}' already exists", path=str(priv_path))
    private_key = Ed25519PrivateKey.generate()
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase)
        if passphrase is not None
        else serialization.NoEncryption()
    )
    pem = private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )
    try:
        directory.mkdir(parents=True, exist_ok=True)
        os.chmod(directory, 0o700)
        write_new_file(priv_path, pem, mode=0o600)
    except FileExistsError as e:
        raise KeyFileError(f"a key with id '{key_id}' already exists", path=str(priv_path)) from e
    except OSError as e:
        raise environment_error(e, priv_path) from e
    public_key = private_key.public_key()
    try:
        write_new_file(pub_path, public_key_file_bytes(name, public_key), mode=0o644)
    except OSError as e:
        raise environment_error(e, pub_path) from e
    trust_public_key(home=home, info=PublicKeyInfo(name, fingerprint_of(public_key), public_key))
    pair = KeyPair(
        key_id=key_id,
        name=name,
        fingerprint=fingerprint_of(public_key),
        private_key_path=priv_path,
        public_key_path=pub_path,
        encrypted=passphrase is not None,
    )
    return pair, private_key


def _pem_is_encrypted(data: bytes) -> bool:
    return b"-----BEGIN ENCRYPTED PRIVATE KEY-----" in data


def list_keys(*, home: Path) -> tuple[KeyPair, ...]:
    """This user's own key pairs, sorted by id."""
    directory = keys_dir(home)
    if not directory.is_dir():
        return ()
    pairs = []
    for priv in sorted(directory.glob("*.key")):
        pub = priv.with_suffix(".pub")
        try:
            info = read_public_key_file(pub)
            encrypted = _pem_is_encrypted(priv.read_bytes())
        except (KeyFileError, OSError):
            continue
        pairs.append(
            KeyPair(
                key_id=priv.stem,
                name=info.name,
                fingerprint=info.fingerprint,
                private_key_path=priv,
                public_key_path=pub,
                encrypted=encrypted,
            )
        )
    return tuple(pairs)


def find_key(*, home: Path, selector: str | None) -> KeyPair:
    """Choose one of this user's keys by id, name or fingerprint (a prefix of at
    least 8 hex digits). Without a selector, the only key there is.
    Raises KeyFileError when none or several match."""
    pairs = list_keys(home=home)
    if not pairs:
        raise KeyFileError(f"no keys in {keys_dir(home)}: create one with 'custody keygen'")
    if selector is None:
        if len(pairs) == 1:
            return pairs[0]
        ids = ", ".join(p.key_id for p in pairs)
        raise KeyFileError(f"several keys ({ids}): choose one with --key")
    fp = re.sub(r"[\s:]", "", selector).lower()
    matches = [
        p
        for p in pairs
        if selector in (p.key_id, p.name)
        or (len(fp) >= 8 and re.fullmatch(r"[0-9a-f]+", fp) and p.fingerprint.startswith(fp))
    ]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise KeyFileError(f"no key matches '{selector}' (see 'custody keys list')")
    raise KeyFileError(f"'{selector}' matches several keys; give more of the fingerprint")


def loose_permissions_warning(path: Path) -> str | None:
    """A warning when a private key file can be read by group or others."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        return f"{path}: private key file is accessible by other users (mode {mode & 0o777:o})"
    return None


def load_private_key(pair: KeyPair, passphrase: bytes | None) -> Ed25519PrivateKey:
    """Decrypt and load a private key, checking that it is Ed25519 and matches
    its public key. Raises KeyFileError with one clear line."""
    path = pair.private_key_path
    try:
        data = path.read_bytes()
    except OSError as e:
        raise KeyFileError(e.strerror or "cannot read key file", path=str(path)) from e
    encrypted = _pem_is_encrypted(data)
    if encrypted and not passphrase:
        raise KeyFileError("key is encrypted and no passphrase was given", path=str(path))
    try:
        key = serialization.load_pem_private_key(data, password=passphrase if encrypted else None)
    except ValueError as e:
        if encrypted:
            raise KeyFileError("wrong passphrase, or damaged key file", path=str(path)) from e
        raise KeyFileError("damaged key file", path=str(path)) from e
    except TypeError as e:
        raise KeyFileError("damaged key file", path=str(path)) from e
    except Exception as e:  # the Rust bindings raise their own types on malformed input
        raise KeyFileError("damaged key file", path=str(path)) from e
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError("not an Ed25519 private key", path=str(path))
    if fingerprint_of(key.public_key()) != pair.fingerprint:
        raise KeyFileError(
            f"private key does not match its public key {pair.public_key_path}", path=str(path)
        )
    return key


def trust_public_key(*, home: Path, info: PublicKeyInfo) -> tuple[PublicKeyInfo, bool]:
    """Add a public key to the trust store. Returns (stored info, newly added)."""
    path = trust_dir(home) / f"{info.fingerprint}.pub"
    if path.exists():
        return read_public_key_file(path), False
    try:
        write_new_file(path, public_key_file_bytes(info.name, info.public_key))
    except FileExistsError:
        return read_public_key_file(path), False
    except OSError as e:
        raise environment_error(e, path) from e
    return PublicKeyInfo(info.name, info.fingerprint, info.public_key, path), True


def trusted_keys(*, home: Path) -> tuple[PublicKeyInfo, ...]:
    """Every key in the local trust store, sorted by name. Damaged entries are skipped."""
    directory = trust_dir(home)
    if not directory.is_dir():
        return ()
    found = []
    for path in sorted(directory.glob("*.pub")):
        try:
            info = read_public_key_file(path)
        except KeyFileError:
            continue
        if path.stem == info.fingerprint:
            found.append(info)
    return tuple(sorted(found, key=lambda i: (i.name.lower(), i.fingerprint)))
