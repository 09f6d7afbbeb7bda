"""Hostile and unusual RFC 3161 replies, made from real `openssl ts -reply`
tokens (tests/tsa_server.py), for tests that run custody and the verifier page
over the same tokens.

`openssl ts -reply` signs only with RSA PKCS#1 v1.5 and ECDSA keys; tokens
signed with RSA-PSS or Ed25519 (which custody accepts) are made here by taking
an openssl token apart (a small DER tree), re-signing its signed attributes
with `cryptography` and putting it back together. Every other token is openssl's
own, or openssl's with one deliberate defect.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa
from cryptography.x509.oid import NameOID

Node = tuple[int, "list[Node] | bytes"]

REJECTED = bytes.fromhex("30053003020102")
"""A TimeStampResp with status 2 (rejection) and no token."""


def _length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def parse(data: bytes) -> list[Node]:
    """DER elements as (tag, children) for constructed ones, (tag, content) else."""
    out: list[Node] = []
    pos = 0
    while pos < len(data):
        tag, first = data[pos], data[pos + 1]
        if first < 0x80:
            length, header = first, 2
        else:
            count = first & 0x7F
            length, header = int.from_bytes(data[pos + 2 : pos + 2 + count], "big"), 2 + count
        body = data[pos + header : pos + header + length]
        out.append((tag, parse(body) if tag & 0x20 else body))
        pos += header + length
    return out


def encode(node: Node) -> bytes:
    tag, value = node
    body = value if isinstance(value, bytes) else b"".join(encode(c) for c in value)
    return bytes([tag]) + _length(len(body)) + body


def _oid(dotted: str) -> Node:
    parts = [int(x) for x in dotted.split(".")]
    out = bytes([40 * parts[0] + parts[1]])
    for value in parts[2:]:
        chunk = [value & 0x7F]
        value >>= 7
        while value:
            chunk.append(0x80 | (value & 0x7F))
            value >>= 7
        out += bytes(reversed(chunk))
    return (0x06, out)


def _integer(value: int) -> Node:
    return (0x02, value.to_bytes(value.bit_length() // 8 + 1, "big", signed=True))


_SHA256 = (0x30, [_oid("2.16.840.1.101.3.4.2.1"), (0x05, b"")])
_PSS_SHA256 = (
    0x30,
    [
        _oid("1.2.840.113549.1.1.10"),
        (
            0x30,
            [
                (0xA0, [_SHA256]),
                (0xA1, [(0x30, [_oid("1.2.840.113549.1.1.8"), _SHA256])]),
                (0xA2, [_integer(32)]),
            ],
        ),
    ],
)
_ED25519 = (0x30, [_oid("1.3.101.112")])


@dataclass
class _Token:
    """An openssl reply taken apart at the pieces a re-signing changes."""

    tree: list[Node]

    @property
    def signed_data(self) -> list[Node]:
        content_info = self.tree[0][1][1]
        return content_info[1][1][1][0][1]  # type: ignore[index,return-value]

    @property
    def signer_info(self) -> list[Node]:
        return self.signed_data[-1][1][0][1]  # type: ignore[index,return-value]

    def signed_attributes(self) -> bytes:
        block = next(p for p in self.signer_info if p[0] == 0xA0)
        return b"\x31" + encode(block)[1:]

    def resign(self, algorithm: Node, signature: bytes) -> None:
        info = self.signer_info
        at = next(i for i, p in enumerate(info) if p[0] == 0xA0) + 1
        info[at] = algorithm
        info[at + 1] = (0x04, signature)

    def bytes(self) -> bytes:
        return encode(self.tree[0])


def resigned_with_pss(reply: bytes, key: rsa.RSAPrivateKey) -> bytes:
    """An openssl token by an RSA TSA, signed again with RSASSA-PSS (SHA-256,
    MGF1-SHA-256, 32-byte salt) by the same key."""
    token = _Token(parse(reply))
    signature = key.sign(
        token.signed_attributes(),
        padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32),
        hashes.SHA256(),
    )
    token.resign(_PSS_SHA256, signature)
    return token.bytes()


def resigned_with_ed25519(reply: bytes) -> bytes:
    """An openssl token whose signer is replaced by a new Ed25519 key and a
    certificate for it (issued by a throw-away CA: the chain is not the point)."""
    key = ed25519.Ed25519PrivateKey.generate()
    ca = ed25519.Ed25519PrivateKey.generate()
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Ed25519 TSA")]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Ed25519 Root")]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.TIME_STAMPING]), critical=True
        )
        .sign(ca, None)
    )
    token = _Token(parse(reply))
    signed_data = token.signed_data
    certs = next(i for i, p in enumerate(signed_data) if p[0] == 0xA0)
    signed_data[certs] = (0xA0, parse(cert.public_bytes(serialization.Encoding.DER)))
    info = token.signer_info
    info[1] = (0x30, [*parse(cert.issuer.public_bytes()), _integer(cert.serial_number)])
    token.resign(_ED25519, key.sign(token.signed_attributes()))
    return token.bytes()


def signature_flipped(reply: bytes) -> bytes:
    """The reply with one bit of the TSA's CMS signature changed (an openssl
    reply ends with the SignerInfo's signature)."""
    token = _Token(parse(reply))
    info = token.signer_info
    at = next(i for i, p in enumerate(info) if p[0] == 0xA0) + 2
    signature = bytearray(info[at][1])  # type: ignore[arg-type]
    signature[len(signature) // 2] ^= 0x01
    info[at] = (0x04, bytes(signature))
    return token.bytes()


def gen_time_changed(reply: bytes) -> bytes:
    """The reply with its genTime's last seconds digit changed: the TSTInfo no
    longer matches the digest the TSA signed."""
    marker = reply.index(b"\x18\x0f") + 2  # GeneralizedTime YYYYMMDDHHMMSSZ
    digit = marker + 13
    changed = b"1" if reply[digit : digit + 1] != b"1" else b"2"
    return reply[:digit] + changed + reply[digit + 1 :]


def without_certificates(reply: bytes) -> bytes:
    """The reply with the certificates its token carries removed."""
    token = _Token(parse(reply))
    token.signed_data[:] = [p for p in token.signed_data if p[0] != 0xA0]
    return token.bytes()
