"""A real RFC 3161 Time-Stamping Authority for the tests: `openssl ts -reply`
behind a small HTTP server on 127.0.0.1.

Everything is real: the test CA and the TSA certificates are made here (with
`cryptography`, so that every validity window can be chosen), every token is
signed by `openssl ts -reply`, and the server is a separate process started on
a free port and stopped by pid.

Reuse:

    from tsa_server import TsaServer, make_tsa, tsa_server   # tsa_server: a fixture

    authority = make_tsa(tmp_path / "tsa", "Test TSA")      # a CA and its TSA certificate
    url = tsa_server.url(authority)                         # POST queries here
    reply = issue_reply(authority, query_der)               # or sign without HTTP
    reply = issue_reply(authority, query_der, at=datetime(2020, 1, 1, tzinfo=UTC))

A genTime in the past: `openssl ts` has no clock option, so `at=` runs it under
libfaketime (`faketime`, Debian package faketime, installed by
.ci/setup.d/12-tsa.sh). Over HTTP the same is `tsa_server.url(authority, at=...)`.

Misbehaving TSAs, for the bad-input tests, are modes of the same server:
`tsa_server.url(authority, mode)` with mode one of html, error500, reject,
other-nonce, other-imprint, slow (answers after 30 s), garbage, huge.
`refused_url()` is a loopback port on which nothing listens.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

POLICY_OID = "1.3.6.1.4.1.4146.2.3"
FAKETIME = shutil.which("faketime")


@dataclass(frozen=True)
class Authority:
    """A test TSA: its root (what a verifier chooses to trust), the TSA's own
    certificate and key, and the openssl ts configuration that signs with them."""

    name: str
    directory: Path
    root_pem: Path
    """The CA certificate a verifier trusts (`custody tsa trust`, `--tsa-root`)."""
    cert_pem: Path
    key_pem: Path
    chain_pem: Path
    """Certificates openssl puts in each reply beside the TSA's: intermediates and root."""
    intermediate_pem: Path | None
    config: Path


def _name(common_name: str, org: str = "custody tests") -> object:
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _write_key(path: Path, key: object) -> None:
    from cryptography.hazmat.primitives import serialization

    path.write_bytes(
        key.private_bytes(  # type: ignore[attr-defined]
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


def _cert(
    subject: object,
    issuer: object,
    public_key: object,
    signing_key: object,
    *,
    ca: bool,
    not_before: datetime,
    not_after: datetime,
    eku_critical: bool = True,
    eku: bool = True,
    issuer_key: object | None = None,
) -> object:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)  # type: ignore[arg-type]
        .issuer_name(issuer)  # type: ignore[arg-type]
        .public_key(public_key)  # type: ignore[arg-type]
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(public_key),  # type: ignore[arg-type]
            critical=False,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(
                issuer_key or public_key  # type: ignore[arg-type]
            ),
            critical=False,
        )
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    else:
        builder = builder.add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        if eku:
            builder = builder.add_extension(
                x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.TIME_STAMPING]),
                critical=eku_critical,
            )
    return builder.sign(signing_key, hashes.SHA256())  # type: ignore[arg-type]


def _pem(cert: object) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return cert.public_bytes(serialization.Encoding.PEM)  # type: ignore[attr-defined, no-any-return]


def make_tsa(
    directory: Path,
    name: str = "Test TSA",
    *,
    root_name: str | None = None,
    intermediate: bool = False,
    valid_from: datetime | None = None,
    valid_until: datetime | None = None,
    eku_critical: bool = True,
    rsa: bool = False,
    embed_root: bool = True,
    sign_as: Authority | None = None,
    accuracy: str | None = "secs:1",
) -> Authority:
    """Make a test CA (and, with `intermediate`, an intermediate CA) and a TSA
    certificate with the critical timeStamping EKU, valid from `valid_from` to
    `valid_until` (default: a day ago to a year ahead).

    `root_name` / `sign_as`: an attacker's authority whose root and TSA carry
    the same names as `sign_as` (an impersonation), each with its own keys.
    `embed_root`: put the root in every reply (openssl -chain), as many TSAs do.
    `accuracy`: the TSA's stated accuracy (openssl ts syntax, `secs:3600`), or
    None for tokens that state none.
    """
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric import rsa as rsa_keys

    def new_key() -> object:
        if rsa:
            return rsa_keys.generate_private_key(public_exponent=65537, key_size=2048)
        return ec.generate_private_key(ec.SECP256R1())

    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC).replace(microsecond=0)
    start = valid_from or now - timedelta(days=1)
    end = valid_until or now + timedelta(days=365)
    ca_start = min(start, now) - timedelta(days=3650)
    ca_end = max(end, now) + timedelta(days=3650)
    root_cn = root_name or (f"{sign_as.name} Root CA" if sign_as else f"{name} Root CA")
    tsa_cn = sign_as.name if sign_as else name

    root_key = new_key()
    root_subject = _name(root_cn)
    root = _cert(
        root_subject,
        root_subject,
        root_key.public_key(),  # type: ignore[attr-defined]
        root_key,
        ca=True,
        not_before=ca_start,
        not_after=ca_end,
    )
    issuer_key, issuer_subject = root_key, root_subject
    inter = None
    if intermediate:
        inter_key = new_key()
        inter_subject = _name(f"{tsa_cn} Issuing CA")
        inter = _cert(
            inter_subject,
            root_subject,
            inter_key.public_key(),  # type: ignore[attr-defined]
            root_key,
            ca=True,
            not_before=ca_start,
            not_after=ca_end,
            issuer_key=root_key.public_key(),  # type: ignore[attr-defined]
        )
        issuer_key, issuer_subject = inter_key, inter_subject
    tsa_key = new_key()
    tsa_cert = _cert(
        _name(tsa_cn),
        issuer_subject,
        tsa_key.public_key(),  # type: ignore[attr-defined]
        issuer_key,
        ca=False,
        not_before=start,
        not_after=end,
        eku_critical=eku_critical,
        issuer_key=issuer_key.public_key(),  # type: ignore[attr-defined]
    )
    root_pem = directory / "root.pem"
    root_pem.write_bytes(_pem(root))
    cert_pem = directory / "tsa.pem"
    cert_pem.write_bytes(_pem(tsa_cert))
    key_pem = directory / "tsa.key"
    _write_key(key_pem, tsa_key)
    inter_pem = None
    chain = b""
    if inter is not None:
        inter_pem = directory / "intermediate.pem"
        inter_pem.write_bytes(_pem(inter))
        chain += _pem(inter)
    if embed_root:
        chain += _pem(root)
    chain_pem = directory / "chain.pem"
    chain_pem.write_bytes(chain)
    (directory / "serial").write_text("01\n")
    config = directory / "tsa.cnf"
    accuracy_line = f"accuracy = {accuracy}\n" if accuracy is not None else ""
    config.write_text(
        f"""[ tsa ]
default_tsa = tsa_config
[ tsa_config ]
dir = {directory}
serial = $dir/serial
crypto_device = builtin
signer_cert = $dir/tsa.pem
signer_key = $dir/tsa.key
signer_digest = sha256
default_policy = {POLICY_OID}
digests = sha256, sha384, sha512
{accuracy_line}clock_precision_digits = 0
ordering = no
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
"""
    )
    return Authority(
        name=tsa_cn,
        directory=directory,
        root_pem=root_pem,
        cert_pem=cert_pem,
        key_pem=key_pem,
        chain_pem=chain_pem,
        intermediate_pem=inter_pem,
        config=config,
    )


_serial_lock = threading.Lock()


def issue_reply(authority: Authority | Path, query: bytes, *, at: datetime | None = None) -> bytes:
    """Sign `query` (a DER TimeStampReq) with `openssl ts -reply`; the DER
    TimeStampResp. `at`: the genTime, under libfaketime."""
    directory = authority.directory if isinstance(authority, Authority) else authority
    chain = directory / "chain.pem"
    with tempfile.TemporaryDirectory(dir=directory) as work:
        qpath = Path(work, "q.tsq")
        rpath = Path(work, "r.tsr")
        qpath.write_bytes(query)
        cmd = ["openssl", "ts", "-reply", "-config", str(directory / "tsa.cnf")]
        cmd += ["-queryfile", str(qpath), "-out", str(rpath)]
        if chain.stat().st_size:
            cmd += ["-chain", str(chain)]
        if at is not None:
            if FAKETIME is None:
                raise RuntimeError("faketime is not installed (.ci/setup.d/12-tsa.sh)")
            stamp = at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
            cmd = [FAKETIME, "-f", f"@{stamp}", *cmd]
        with _serial_lock:
            done = subprocess.run(
                cmd, capture_output=True, env={**os.environ, "TZ": "UTC"}, check=False
            )
        if done.returncode != 0:
            raise RuntimeError(f"openssl ts -reply failed: {done.stderr.decode(errors='replace')}")
        return rpath.read_bytes()


def make_query(data: bytes, *, nonce: bool = True) -> bytes:
    """A DER TimeStampReq for SHA-256 of `data` made by `openssl ts -query`."""
    with tempfile.TemporaryDirectory() as work:
        dpath = Path(work, "data")
        dpath.write_bytes(data)
        cmd = ["openssl", "ts", "-query", "-data", str(dpath), "-sha256", "-cert"]
        if not nonce:
            cmd.append("-no_nonce")
        return subprocess.run(cmd, capture_output=True, check=True).stdout


def _other_imprint(query: bytes) -> bytes:
    """The same request (same nonce) over another SHA-256 digest."""
    marker = b"\x04\x20"
    at = query.find(marker)
    if at < 0:
        return query
    digest = query[at + 2 : at + 34]
    return query[: at + 2] + bytes(b ^ 0xFF for b in digest) + query[at + 34 :]


def _other_nonce(query: bytes) -> bytes:
    """The same request with another nonce: openssl's own query for the digest."""
    at = query.find(b"\x04\x20")
    digest = query[at + 2 : at + 34]
    with tempfile.TemporaryDirectory():
        done = subprocess.run(
            ["openssl", "ts", "-query", "-digest", digest.hex(), "-sha256", "-cert"],
            capture_output=True,
            check=True,
        )
    return done.stdout


# --- the HTTP server (runs as its own process: python tsa_server.py serve ROOT)


def _serve(root: Path) -> None:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def _send(self, status: int, body: bytes, ctype: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            parts = [p for p in self.path.split("/") if p]
            length = int(self.headers.get("Content-Length", "0"))
            query = self.rfile.read(length)
            if not parts or not (root / parts[0] / "tsa.cnf").is_file():
                self._send(404, b"no such TSA", "text/plain")
                return
            directory = root / parts[0]
            mode = parts[1] if len(parts) > 1 else "ok"
            if self.headers.get("Content-Type") != "application/timestamp-query":
                self._send(400, b"wrong content type", "text/plain")
                return
            at = None
            if mode == "at":
                at = datetime.fromtimestamp(int(parts[2]), UTC)
            elif mode == "html":
                self._send(200, b"<html><body>Captive portal</body></html>", "text/html")
                return
            elif mode == "error500":
                self._send(500, b"internal error", "text/plain")
                return
            elif mode == "reject":
                # TimeStampResp { PKIStatusInfo { status rejection(2), failInfo badAlg } }
                body = bytes.fromhex("3009300702010203020780")
                self._send(200, body, "application/timestamp-reply")
                return
            elif mode == "garbage":
                self._send(200, secrets.token_bytes(300), "application/timestamp-reply")
                return
            elif mode == "huge":
                self._send(200, b"\x30" * (5 << 20), "application/timestamp-reply")
                return
            elif mode == "slow":
                time.sleep(30)
            elif mode == "other-imprint":
                query = _other_imprint(query)
            elif mode == "other-nonce":
                query = _other_nonce(query)
            try:
                reply = issue_reply(directory, query, at=at)
            except RuntimeError as e:
                self._send(500, str(e).encode(), "text/plain")
                return
            self._send(200, reply, "application/timestamp-reply")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print(server.server_address[1], flush=True)
    server.serve_forever()


class TsaServer:
    """A running TSA server process serving every authority made under `root`
    (an authority made with make_tsa(root / NAME, ...) is at /NAME)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [sys.executable, __file__, "serve", str(root)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line.strip():
            self.stop()
            raise RuntimeError("the test TSA server did not start")
        self.port = int(line)

    @property
    def pid(self) -> int:
        return self.process.pid

    def url(
        self, authority: Authority, mode: str | None = None, *, at: datetime | None = None
    ) -> str:
        """The URL of `authority` on this server (it must live under root)."""
        rel = authority.directory.relative_to(self.root).as_posix()
        base = f"http://127.0.0.1:{self.port}/{rel}"
        if at is not None:
            return f"{base}/at/{int(at.timestamp())}"
        return f"{base}/{mode}" if mode else base

    def authority(self, name: str, **kwargs: object) -> Authority:
        """A new authority served here, in a fresh folder."""
        directory = self.root / f"{name.replace(' ', '-')}-{secrets.token_hex(4)}"
        return make_tsa(directory, name, **kwargs)  # type: ignore[arg-type]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()


def refused_url() -> str:
    """A loopback URL on which nothing listens (a TSA that refuses)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/tsa"


@pytest.fixture(scope="session")
def tsa_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TsaServer]:
    """One TSA server for the session; make authorities with tsa_server.authority(name)."""
    server = TsaServer(tmp_path_factory.mktemp("tsa"))
    try:
        yield server
    finally:
        server.stop()


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "serve":
        _serve(Path(sys.argv[2]))
    else:
        sys.exit("usage: tsa_server.py serve ROOT")
