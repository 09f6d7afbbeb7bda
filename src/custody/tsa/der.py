"""Just enough DER to read an RFC 3161 reply's CMS envelope.

rfc3161-client parses the TSTInfo; custody itself reads the envelope around it
for two reasons: to put the certificate set in DER order before the library
sees it (openssl and some real TSAs write it in another order; the set is not
covered by the TSA's signature), and to check the TSA's signature and find its
certificate without trusting anything (which tells "untrusted" from "invalid").
Every function raises DerError on malformed input, never anything else.
"""

from __future__ import annotations

from dataclasses import dataclass


class DerError(ValueError):
    """The bytes are not the DER structure expected."""


@dataclass(frozen=True, slots=True)
class Tlv:
    """One DER element: its tag byte and where its header and content lie."""

    tag: int
    start: int
    content_start: int
    end: int

    def content(self, data: bytes) -> bytes:
        return data[self.content_start : self.end]

    def whole(self, data: bytes) -> bytes:
        return data[self.start : self.end]


SEQUENCE = 0x30
SET = 0x31
OID = 0x06
INTEGER = 0x02
OCTET_STRING = 0x04
CONTEXT_0 = 0xA0
CONTEXT_1 = 0xA1
IMPLICIT_0_PRIMITIVE = 0x80


def read(data: bytes, pos: int, limit: int | None = None) -> Tlv:
    """The element starting at `pos` (which must end by `limit`)."""
    end_limit = len(data) if limit is None else limit
    if pos + 2 > end_limit:
        raise DerError("truncated")
    tag = data[pos]
    if tag & 0x1F == 0x1F:
        raise DerError("multi-byte tags are not expected here")
    first = data[pos + 1]
    if first < 0x80:
        length, header = first, 2
    elif first == 0x80:
        raise DerError("indefinite length (BER, not DER)")
    else:
        count = first & 0x7F
        if count > 4 or pos + 2 + count > end_limit:
            raise DerError("bad length")
        length = int.from_bytes(data[pos + 2 : pos + 2 + count], "big")
        header = 2 + count
    content_start = pos + header
    end = content_start + length
    if end > end_limit:
        raise DerError("truncated")
    return Tlv(tag, pos, content_start, end)


def children(data: bytes, parent: Tlv) -> list[Tlv]:
    """The elements inside a constructed element."""
    if not parent.tag & 0x20:
        raise DerError("not a constructed element")
    out = []
    pos = parent.content_start
    while pos < parent.end:
        child = read(data, pos, parent.end)
        out.append(child)
        pos = child.end
    return out


def expect(tlv: Tlv, tag: int, what: str) -> Tlv:
    if tlv.tag != tag:
        raise DerError(f"{what}: unexpected tag 0x{tlv.tag:02x}")
    return tlv


def decode_oid(content: bytes) -> str:
    """Dotted form of an OBJECT IDENTIFIER's content bytes."""
    if not content:
        raise DerError("empty OID")
    values: list[int] = []
    value = 0
    for byte in content:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            values.append(value)
            value = 0
    if content[-1] & 0x80:
        raise DerError("truncated OID")
    first = values[0]
    head = [min(first // 40, 2), first - 40 * min(first // 40, 2)]
    return ".".join(str(v) for v in head + values[1:])


ID_SIGNED_DATA = "1.2.840.113549.1.7.2"
ID_CT_TST_INFO = "1.2.840.113549.1.9.16.1.4"


@dataclass(frozen=True)
class SignerInfoParts:
    """A CMS SignerInfo, taken apart."""

    issuer_der: bytes | None
    serial: int | None
    key_identifier: bytes | None
    digest_oid: str
    signed_attrs_der: bytes | None
    """The signed attributes as signed: re-tagged as a SET (RFC 5652 5.4)."""
    attributes: dict[str, list[bytes]]
    """Signed attribute OID -> the DER of each value."""
    signature_oid: str
    signature_params: bytes | None
    signature: bytes


@dataclass(frozen=True)
class TokenParts:
    """The CMS envelope of a TimeStampResp's token."""

    econtent_type: str
    econtent: bytes
    certificates: tuple[bytes, ...]
    signer_infos: tuple[SignerInfoParts, ...]
    cert_set: tuple[int, int] | None
    """Where the certificate set's content lies in the reply (start, end)."""


def parse_reply(data: bytes) -> tuple[int, TokenParts | None]:
    """A TimeStampResp: its status, and its token's envelope (None when the
    reply carries no token). Raises DerError."""
    top = expect(read(data, 0), SEQUENCE, "TimeStampResp")
    if top.end != len(data):
        raise DerError("trailing bytes after the TimeStampResp")
    parts = children(data, top)
    if not parts:
        raise DerError("empty TimeStampResp")
    status_info = children(data, expect(parts[0], SEQUENCE, "PKIStatusInfo"))
    if not status_info:
        raise DerError("empty PKIStatusInfo")
    status = _integer(expect(status_info[0], INTEGER, "PKIStatus").content(data))
    if len(parts) < 2:
        return status, None
    return status, _parse_content_info(data, parts[1])


def _integer(content: bytes) -> int:
    if not content:
        raise DerError("empty INTEGER")
    return int.from_bytes(content, "big", signed=True)


def _parse_content_info(data: bytes, tlv: Tlv) -> TokenParts:
    ci = children(data, expect(tlv, SEQUENCE, "ContentInfo"))
    if len(ci) != 2 or decode_oid(expect(ci[0], OID, "contentType").content(data)) != (
        ID_SIGNED_DATA
    ):
        raise DerError("the token is not CMS SignedData")
    explicit = children(data, expect(ci[1], CONTEXT_0, "content"))
    if len(explicit) != 1:
        raise DerError("bad SignedData wrapper")
    sd = children(data, expect(explicit[0], SEQUENCE, "SignedData"))
    if len(sd) < 4:
        raise DerError("SignedData is too short")
    encap = children(data, expect(sd[2], SEQUENCE, "EncapsulatedContentInfo"))
    if len(encap) != 2:
        raise DerError("no encapsulated content")
    econtent_type = decode_oid(expect(encap[0], OID, "eContentType").content(data))
    wrapped = children(data, expect(encap[1], CONTEXT_0, "eContent"))
    if len(wrapped) != 1:
        raise DerError("bad eContent")
    econtent = expect(wrapped[0], OCTET_STRING, "eContent").content(data)
    rest = sd[3:]
    certificates: tuple[bytes, ...] = ()
    cert_set = None
    if rest and rest[0].tag == CONTEXT_0:
        certificates = tuple(c.whole(data) for c in children(data, rest[0]))
        cert_set = (rest[0].content_start, rest[0].end)
        rest = rest[1:]
    if rest and rest[0].tag == CONTEXT_1:
        rest = rest[1:]
    if len(rest) != 1:
        raise DerError("no signerInfos")
    signers = tuple(_parse_signer(data, s) for s in children(data, expect(rest[0], SET, "signers")))
    return TokenParts(econtent_type, econtent, certificates, signers, cert_set)


def _algorithm(data: bytes, tlv: Tlv) -> tuple[str, bytes | None]:
    parts = children(data, expect(tlv, SEQUENCE, "AlgorithmIdentifier"))
    if not parts:
        raise DerError("empty AlgorithmIdentifier")
    oid = decode_oid(expect(parts[0], OID, "algorithm").content(data))
    params = parts[1].whole(data) if len(parts) > 1 else None
    return oid, params


def _parse_signer(data: bytes, tlv: Tlv) -> SignerInfoParts:
    parts = children(data, expect(tlv, SEQUENCE, "SignerInfo"))
    if len(parts) < 5:
        raise DerError("SignerInfo is too short")
    issuer = serial = key_id = None
    sid = parts[1]
    if sid.tag == SEQUENCE:
        ias = children(data, sid)
        if len(ias) != 2:
            raise DerError("bad issuerAndSerialNumber")
        issuer = expect(ias[0], SEQUENCE, "issuer").whole(data)
        serial = _integer(expect(ias[1], INTEGER, "serialNumber").content(data))
    elif sid.tag == IMPLICIT_0_PRIMITIVE:
        key_id = sid.content(data)
    else:
        raise DerError("unknown SignerIdentifier")
    digest_oid, _ = _algorithm(data, parts[2])
    index = 3
    signed_attrs = None
    attributes: dict[str, list[bytes]] = {}
    if parts[index].tag == CONTEXT_0:
        block = parts[index]
        signed_attrs = bytes([SET]) + data[block.start + 1 : block.end]
        for attr in children(data, block):
            pieces = children(data, expect(attr, SEQUENCE, "Attribute"))
            if len(pieces) != 2:
                raise DerError("bad Attribute")
            oid = decode_oid(expect(pieces[0], OID, "attrType").content(data))
            values = [v.whole(data) for v in children(data, expect(pieces[1], SET, "attrValues"))]
            if oid in attributes:
                raise DerError(f"signed attribute {oid} appears twice")
            attributes[oid] = values
        index += 1
    if len(parts) < index + 2:
        raise DerError("SignerInfo is too short")
    sig_oid, sig_params = _algorithm(data, parts[index])
    signature = expect(parts[index + 1], OCTET_STRING, "signature").content(data)
    return SignerInfoParts(
        issuer, serial, key_id, digest_oid, signed_attrs, attributes, sig_oid, sig_params, signature
    )


def octet_string(value_der: bytes) -> bytes:
    """The content of a DER OCTET STRING."""
    tlv = expect(read(value_der, 0), OCTET_STRING, "OCTET STRING")
    if tlv.end != len(value_der):
        raise DerError("trailing bytes")
    return tlv.content(value_der)


def oid_value(value_der: bytes) -> str:
    tlv = expect(read(value_der, 0), OID, "OBJECT IDENTIFIER")
    return decode_oid(tlv.content(value_der))


def der_set_order(reply: bytes) -> bytes:
    """The reply with its certificate set in DER (X.690 11.6) order.

    Sorting the members of a SET OF changes no length, so the result has the
    same length and differs only inside the set, which the TSA's signature does
    not cover. Raises DerError when the reply is not a TimeStampResp.
    """
    _, token = parse_reply(reply)
    if token is None or token.cert_set is None or len(token.certificates) < 2:
        return reply
    start, end = token.cert_set
    width = max(len(c) for c in token.certificates)
    ordered = sorted(token.certificates, key=lambda c: c.ljust(width, b"\0"))
    return reply[:start] + b"".join(ordered) + reply[end:]
