"""Sign and verify exact bytes with Ed25519, translating cryptography's exceptions."""

from __future__ import annotations

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from custody.base.errors import BadSignature

SIGNATURE_LENGTH = 64


def sign_bytes(private_key: Ed25519PrivateKey, data: bytes) -> bytes:
    """The raw 64-byte Ed25519 signature over exactly `data`."""
    return private_key.sign(data)


def verify_signature(public_key: Ed25519PublicKey, signature: bytes, data: bytes) -> None:
    """Return when `signature` is a valid Ed25519 signature by `public_key` over
    exactly `data`; raise BadSignature otherwise. The default way to check a
    signature, as pyca/cryptography's own `verify` raises."""
    if len(signature) != SIGNATURE_LENGTH:
        raise BadSignature(f"a signature is {SIGNATURE_LENGTH} bytes, not {len(signature)}")
    try:
        public_key.verify(signature, data)
    except InvalidSignature as e:
        raise BadSignature("signature does not verify") from e


def signature_is_valid(public_key: Ed25519PublicKey, signature: bytes, data: bytes) -> bool:
    """verify_signature as a yes or no, for the checks that collect every problem
    into one report instead of stopping at the first."""
    try:
        verify_signature(public_key, signature, data)
    except BadSignature:
        return False
    return True
