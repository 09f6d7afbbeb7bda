"""The TSA roots a verifier chose: `custody tsa trust ROOT.pem` keeps them in
$CUSTODY_HOME/tsa-roots/, `verify --tsa-root FILE` adds one for a run.

Certificates carried inside a token or a bundle are never roots.
"""

from __future__ import annotations

import contextlib
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from custody.base.errors import InputError
from custody.base.fsutil import environment_error, write_new_file
from custody.base.home import tsa_roots_dir

MAX_ROOT_FILE_BYTES = 1024 * 1024


@dataclass(frozen=True)
class TsaRootInfo:
    """A TSA root as a person checks it: its name and SHA-256 fingerprint."""

    name: str
    sha256: str
    path: str
    not_after: str

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "sha256": self.sha256,
            "path": self.path,
            "not_after": self.not_after,
        }


def certificate_sha256(cert: x509.Certificate) -> str:
    """The SHA-256 of the certificate's DER: what `openssl x509 -fingerprint -sha256` shows."""
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def parse_root_bytes(data: bytes, *, where: str) -> tuple[x509.Certificate, ...]:
    """Every certificate in PEM (one or more) or DER bytes. Raises InputError."""
    try:
        if b"-----BEGIN CERTIFICATE-----" in data:
            certs = tuple(x509.load_pem_x509_certificates(data))
        else:
            certs = (x509.load_der_x509_certificate(data),)
    except ValueError as e:
        raise InputError("not an X.509 certificate (PEM or DER)", path=where) from e
    if not certs:
        raise InputError("not an X.509 certificate (PEM or DER)", path=where)
    return certs


def load_root_file(path: Path) -> tuple[x509.Certificate, ...]:
    """The certificates of a TSA root file. Raises InputError (exit 2)."""
    try:
        with path.open("rb") as fh:
            data = fh.read(MAX_ROOT_FILE_BYTES + 1)
    except OSError as e:
        raise InputError(f"cannot read TSA root ({e.strerror})", path=str(path)) from e
    if len(data) > MAX_ROOT_FILE_BYTES:
        raise InputError("too large for a certificate", path=str(path))
    return parse_root_bytes(data, where=str(path))


def describe_root(cert: x509.Certificate, path: Path) -> TsaRootInfo:
    from custody.tsa.token import describe_name, iso_utc

    return TsaRootInfo(
        name=describe_name(cert.subject),
        sha256=certificate_sha256(cert),
        path=str(path),
        not_after=iso_utc(cert.not_valid_after_utc) or "",
    )


def trusted_tsa_roots(*, home: Path) -> tuple[x509.Certificate, ...]:
    """Every TSA root in $CUSTODY_HOME/tsa-roots. Damaged entries are skipped."""
    directory = tsa_roots_dir(home)
    if not directory.is_dir():
        return ()
    found: list[x509.Certificate] = []
    for path in sorted(directory.glob("*.pem")):
        try:
            certs = load_root_file(path)
        except InputError:
            continue
        found.extend(c for c in certs if certificate_sha256(c) == path.stem)
    return tuple(found)


def list_tsa_roots(*, home: Path) -> tuple[TsaRootInfo, ...]:
    directory = tsa_roots_dir(home)
    return tuple(
        describe_root(c, directory / f"{certificate_sha256(c)}.pem")
        for c in trusted_tsa_roots(home=home)
    )


def trust_tsa_root(*, home: Path, path: Path) -> tuple[TsaRootInfo, ...]:
    """Add every certificate of `path` to the TSA roots of `home`. Returns what
    was stored (already trusted roots included). Raises InputError, EnvironmentFailure."""
    certs = load_root_file(path)
    directory = tsa_roots_dir(home)
    stored = []
    try:
        directory.mkdir(parents=True, exist_ok=True)
        for cert in certs:
            target = directory / f"{certificate_sha256(cert)}.pem"
            with contextlib.suppress(FileExistsError):
                write_new_file(target, cert.public_bytes(serialization.Encoding.PEM))
            stored.append(describe_root(cert, target))
    except OSError as e:
        raise environment_error(e, directory) from e
    return tuple(stored)
