"""Checking one RFC 3161 reply against the data it claims to stamp and the
TSA roots the verifier chose. Pure: bytes in, a TokenCheck out; no network,
no clock, never raises for hostile input.

A token is
- `trusted`: it stamps exactly this data, the TSA's signature is valid, and
  its certificate chains (valid at genTime, critical timeStamping EKU) to a
  root the verifier chose. Both rfc3161-client and custody's own chain walk
  must agree: a library that accepted an embedded attacker root (1.0.7, 1.0.8)
  is caught here.
- `untrusted`: well formed, stamps this data, signature valid, but it chains
  to no chosen root. The time is not proven; not a failure by itself.
- `invalid`: wrong imprint, bad signature, damaged structure, or a signer
  that claims the identity of a chosen TSA without chaining to its root.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from custody.base.utc import UTC_FORMAT
from custody.tsa import der

MAX_TOKEN_BYTES = 1024 * 1024
"""A larger .tsr is not read: real replies are a few kilobytes."""

TRUSTED = "trusted"
UNTRUSTED = "untrusted"
INVALID = "invalid"

_DIGESTS: dict[str, Callable[[], hashes.HashAlgorithm]] = {
    "2.16.840.1.101.3.4.2.1": hashes.SHA256,
    "2.16.840.1.101.3.4.2.2": hashes.SHA384,
    "2.16.840.1.101.3.4.2.3": hashes.SHA512,
}
_HASHLIB = {
    "2.16.840.1.101.3.4.2.1": "sha256",
    "2.16.840.1.101.3.4.2.2": "sha384",
    "2.16.840.1.101.3.4.2.3": "sha512",
}
_RSA_WITH: dict[str, Callable[[], hashes.HashAlgorithm]] = {
    "1.2.840.113549.1.1.11": hashes.SHA256,
    "1.2.840.113549.1.1.12": hashes.SHA384,
    "1.2.840.113549.1.1.13": hashes.SHA512,
}
_ECDSA_WITH: dict[str, Callable[[], hashes.HashAlgorithm]] = {
    "1.2.840.10045.4.3.2": hashes.SHA256,
    "1.2.840.10045.4.3.3": hashes.SHA384,
    "1.2.840.10045.4.3.4": hashes.SHA512,
}
_RSA = "1.2.840.113549.1.1.1"
_RSA_PSS = "1.2.840.113549.1.1.10"
_EC_PUBLIC_KEY = "1.2.840.10045.2.1"
_ED25519 = "1.3.101.112"
_ATTR_CONTENT_TYPE = "1.2.840.113549.1.9.3"
_ATTR_MESSAGE_DIGEST = "1.2.840.113549.1.9.4"


@dataclass(frozen=True)
class TokenCheck:
    """What one timestamp token proves."""

    status: str
    """trusted, untrusted or invalid."""
    detail: str
    tsa: str | None = None
    """The TSA's name (its certificate's subject), when the token names one."""
    gen_time: datetime | None = None
    serial: str | None = None
    policy: str | None = None
    accuracy: timedelta | None = None
    root: str | None = None
    """The chosen root it chains to (trusted tokens only)."""

    def to_json(self) -> dict[str, Any]:
        return {
            "tsa": self.tsa,
            "gen_time": iso_utc(self.gen_time),
            "serial": self.serial,
            "policy": self.policy,
            "status": self.status,
            "detail": self.detail,
        }


def iso_utc(moment: datetime | None) -> str | None:
    """ISO 8601 UTC with a Z, to the second (or finer when the TSA said so)."""
    if moment is None:
        return None
    moment = moment.astimezone(UTC)
    fmt = "%Y-%m-%dT%H:%M:%S.%fZ" if moment.microsecond else UTC_FORMAT
    return moment.strftime(fmt)


def describe_name(name: x509.Name) -> str:
    """A certificate name for a person: its common name, else the whole name."""
    cn = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    if cn:
        return str(cn[0].value)
    return name.rfc4514_string() or "(no name)"


def check_token(
    data: bytes,
    message: bytes,
    roots: Sequence[x509.Certificate],
    *,
    subject: str = "this bundle's custody/statement.sig",
) -> TokenCheck:
    """Check the DER TimeStampResp `data` as a timestamp of `message` against
    the chosen `roots`. `subject` names `message` in the verdict. Never raises
    for bad input."""
    if len(data) > MAX_TOKEN_BYTES:
        return TokenCheck(INVALID, f"{len(data):,} bytes: too large for a timestamp reply")
    try:
        return _check(data, message, roots, subject)
    except der.DerError as e:
        return TokenCheck(INVALID, f"not a DER RFC 3161 reply ({e})")
    except (ValueError, TypeError) as e:
        # cryptography parses a certificate's fields lazily: a damaged one that
        # loaded whole raises only when its issuer, subject or extensions are
        # read (TypeError for a BIT STRING name value under another attribute
        # type than x500UniqueIdentifier).
        return TokenCheck(INVALID, f"damaged certificate or structure in the reply ({e})")


def _check(
    data: bytes, message: bytes, roots: Sequence[x509.Certificate], subject: str
) -> TokenCheck:
    import rfc3161_client

    status, parts = der.parse_reply(data)
    if status not in (0, 1):
        return TokenCheck(INVALID, f"the TSA did not grant this request (status {status})")
    if parts is None:
        return TokenCheck(INVALID, "the reply carries no token")
    ordered = der.der_set_order(data)
    try:
        response = rfc3161_client.decode_timestamp_response(ordered)
        info = response.tst_info
        gen_time = info.gen_time.astimezone(UTC)
        imprint = info.message_imprint
        imprint_oid = imprint.hash_algorithm.dotted_string
        imprint_value = imprint.message
        serial = f"{info.serial_number:x}"
        policy = info.policy.dotted_string
        accuracy = _accuracy(info)
    except (ValueError, TypeError, OverflowError) as e:
        return TokenCheck(INVALID, f"the token cannot be parsed ({e})")
    tsa: str | None = None

    def result(status: str, detail: str, root: str | None = None) -> TokenCheck:
        return TokenCheck(status, detail, tsa, gen_time, serial, policy, accuracy, root)

    if parts.econtent_type != der.ID_CT_TST_INFO:
        return result(INVALID, "the signed content is not a TSTInfo")
    algorithm = _HASHLIB.get(imprint_oid)
    if algorithm is None:
        return result(INVALID, f"unsupported imprint hash {imprint_oid}")
    if hashlib.new(algorithm, message).digest() != imprint_value:
        return result(INVALID, f"the token stamps other data, not {subject}")
    certificates: list[x509.Certificate] = []
    for raw in parts.certificates:
        try:
            certificates.append(x509.load_der_x509_certificate(raw))
        except (ValueError, x509.InvalidVersion) as e:
            # InvalidVersion is not a ValueError: a damaged version number
            # raised past the verifier (found by comparing with the page).
            return result(INVALID, f"a certificate in the token is damaged ({e})")
    if len(parts.signer_infos) != 1:
        return result(INVALID, f"{len(parts.signer_infos)} signers; a token has exactly one")
    signer_info = parts.signer_infos[0]
    signer = _find_signer(signer_info, [*certificates, *roots])
    if signer is None:
        return result(INVALID, "the token carries no certificate for its signer")
    tsa = describe_name(signer.subject)
    problem = _signature_problem(signer_info, parts.econtent, signer)
    if problem is not None:
        return result(INVALID, problem)
    if not roots:
        return result(
            UNTRUSTED,
            "valid, but you chose no TSA root (custody tsa trust ROOT.pem, or --tsa-root)",
        )
    library_error = _library_verify(response, imprint_value, roots)
    path, walk_error = _chain_to_root(signer, certificates, roots, gen_time)
    if library_error is None and path is not None:
        eku_error = _eku_problem(signer)
        if eku_error is not None:
            return result(INVALID, eku_error)
        return result(
            TRUSTED,
            f"stamped by {tsa}, chains to your TSA root {describe_name(path.subject)}",
            root=describe_name(path.subject),
        )
    if library_error is None:
        # The library accepted a chain custody cannot walk to a chosen root:
        # never trust that (rfc3161-client 1.0.7 and 1.0.8 did so for an
        # attacker's root embedded in the reply).
        return result(INVALID, f"the chain does not reach a TSA root you chose ({walk_error})")
    claimed = _claimed_root(signer, certificates, roots)
    reason = walk_error or library_error
    if claimed is not None:
        return result(
            INVALID,
            f"claims to be from your TSA {describe_name(claimed.subject)} but does not chain "
            f"to its root at genTime ({reason})",
        )
    issuer = describe_name(signer.issuer)
    return result(
        UNTRUSTED, f"valid, but issued by {issuer}, which chains to no TSA root you chose"
    )


def _accuracy(info: Any) -> timedelta | None:
    try:
        acc = info.accuracy
    except (ValueError, AttributeError):
        return None
    if acc is None:
        return None
    parts = (acc.seconds or 0, acc.millis or 0, acc.micros or 0)
    if any(part < 0 for part in parts):
        # An accuracy is a width (RFC 3161 2.4.2): a negative one would move the
        # proven time before genTime.
        raise ValueError("negative accuracy")
    return timedelta(seconds=parts[0], milliseconds=parts[1], microseconds=parts[2])


def _find_signer(
    signer_info: der.SignerInfoParts, candidates: Sequence[x509.Certificate]
) -> x509.Certificate | None:
    for cert in candidates:
        if signer_info.issuer_der is not None:
            if (
                cert.serial_number == signer_info.serial
                and cert.issuer.public_bytes() == signer_info.issuer_der
            ):
                return cert
        elif signer_info.key_identifier is not None and _ski(cert) == signer_info.key_identifier:
            return cert
    return None


def _ski(cert: x509.Certificate) -> bytes | None:
    try:
        return cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    except (x509.ExtensionNotFound, ValueError):
        return None


def _aki(cert: x509.Certificate) -> bytes | None:
    try:
        ext = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier)
    except (x509.ExtensionNotFound, ValueError):
        return None
    return ext.value.key_identifier


def _signature_problem(
    signer_info: der.SignerInfoParts, econtent: bytes, cert: x509.Certificate
) -> str | None:
    """None when `cert`'s key signed this content (RFC 5652 5.4-5.6)."""
    digest_cls = _DIGESTS.get(signer_info.digest_oid)
    if digest_cls is None:
        return f"unsupported signature digest {signer_info.digest_oid}"
    if signer_info.signed_attrs_der is None:
        return "the token has no signed attributes"
    try:
        content_types = signer_info.attributes.get(_ATTR_CONTENT_TYPE, [])
        digests = signer_info.attributes.get(_ATTR_MESSAGE_DIGEST, [])
        if len(content_types) != 1 or der.oid_value(content_types[0]) != der.ID_CT_TST_INFO:
            return "the signed content-type attribute is not TSTInfo"
        if len(digests) != 1:
            return "the token has no message-digest attribute"
        expected = der.octet_string(digests[0])
    except der.DerError as e:
        return f"damaged signed attributes ({e})"
    h = hashes.Hash(digest_cls())
    h.update(econtent)
    if h.finalize() != expected:
        return "the TSTInfo was changed after the TSA signed it"
    signed = signer_info.signed_attrs_der
    try:
        key = cert.public_key()
        oid = signer_info.signature_oid
        if isinstance(key, rsa.RSAPublicKey) and oid in (_RSA, *_RSA_WITH):
            algo = _RSA_WITH.get(oid, digest_cls)
            key.verify(signer_info.signature, signed, padding.PKCS1v15(), algo())
        elif isinstance(key, rsa.RSAPublicKey) and oid == _RSA_PSS:
            key.verify(
                signer_info.signature,
                signed,
                padding.PSS(mgf=padding.MGF1(digest_cls()), salt_length=padding.PSS.AUTO),
                digest_cls(),
            )
        elif isinstance(key, ec.EllipticCurvePublicKey) and oid in (_EC_PUBLIC_KEY, *_ECDSA_WITH):
            algo = _ECDSA_WITH.get(oid, digest_cls)
            key.verify(signer_info.signature, signed, ec.ECDSA(algo()))
        elif isinstance(key, ed25519.Ed25519PublicKey) and oid == _ED25519:
            key.verify(signer_info.signature, signed)
        else:
            return f"unsupported signature algorithm {oid} for the TSA's key"
    except InvalidSignature:
        return "the TSA's signature over the token does not verify"
    except (UnsupportedAlgorithm, ValueError, TypeError) as e:
        return f"the TSA's signature cannot be checked ({e})"
    return None


def _library_verify(response: Any, imprint: bytes, roots: Sequence[x509.Certificate]) -> str | None:
    """rfc3161-client's verdict with only the chosen roots: None when it accepts."""
    import rfc3161_client

    try:
        verifier = rfc3161_client.VerifierBuilder(roots=list(roots)).build()
        verifier.verify(response, imprint)
    except rfc3161_client.VerificationError as e:
        return str(e)
    except (ValueError, TypeError) as e:
        return f"cannot be verified ({e})"
    return None


def _valid_at(cert: x509.Certificate, moment: datetime) -> bool:
    return cert.not_valid_before_utc <= moment <= cert.not_valid_after_utc


def _chain_to_root(
    signer: x509.Certificate,
    carried: Sequence[x509.Certificate],
    roots: Sequence[x509.Certificate],
    at: datetime,
) -> tuple[x509.Certificate | None, str | None]:
    """Walk from the signer through the carried certificates to a chosen root,
    checking each signature and validity at `at`. Carried certificates are
    never roots: the walk ends only at a certificate the verifier chose."""
    root_ders = {r.public_bytes(_DER): r for r in roots}
    current = signer
    for _ in range(8):
        if not _valid_at(current, at):
            return None, f"{describe_name(current.subject)} was not valid at genTime"
        if current.public_bytes(_DER) in root_ders:
            return current, None
        issuers = [
            c
            for c in [*roots, *carried]
            if c.subject == current.issuer and c.public_bytes(_DER) != current.public_bytes(_DER)
        ]
        for issuer in issuers:
            try:
                current.verify_directly_issued_by(issuer)
            except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
                continue
            if issuer.public_bytes(_DER) in root_ders:
                if not _valid_at(issuer, at):
                    return None, f"{describe_name(issuer.subject)} was not valid at genTime"
                return issuer, None
            current = issuer
            break
        else:
            return None, f"no chosen root issued {describe_name(current.subject)}"
    return None, "the chain is too long"


def _eku_problem(cert: x509.Certificate) -> str | None:
    try:
        ext = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    except (x509.ExtensionNotFound, ValueError):
        return "the TSA certificate has no extended key usage"
    if not ext.critical or ExtendedKeyUsageOID.TIME_STAMPING not in ext.value:
        return "the TSA certificate lacks the critical timeStamping extended key usage"
    return None


def _claimed_root(
    signer: x509.Certificate,
    carried: Sequence[x509.Certificate],
    roots: Sequence[x509.Certificate],
) -> x509.Certificate | None:
    """The chosen root whose identity the token's certificates claim (same
    subject, issuer or key identifier), if any."""
    for root in roots:
        root_der = root.public_bytes(_DER)
        root_ski = _ski(root)
        for cert in [signer, *carried]:
            if cert.public_bytes(_DER) == root_der:
                continue
            if cert.subject == root.subject or cert.issuer == root.subject:
                return root
            if root_ski is not None and root_ski in (_ski(cert), _aki(cert)):
                return root
    return None


_DER = serialization.Encoding.DER
