"""Sign and verify exact bytes with Ed25519, translating cryptography's exceptions."""

from __future__ import annotations

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from custody.base.errors import VerificationFailed

SIGNATURE_LENGTH = 64


def sign_bytes(private_key: Ed25519PrivateKey, data: bytes) -> bytes:
    """The raw 64-byte Ed25519 signature over exactly `data`."""
    return private_key.sign(data)


def signature_is_valid(public_key: Ed25519PublicKey, signature: bytes, data: bytes) -> bool:
    """True when `signature` is a valid Ed25519 signature by `public_key` over `data`."""
    if len(signature) != SIGNATURE_LENGTH:
        return False
    try:
        public_key.verify(signature, data)
    except InvalidSignature:
        return False
    return True


def verify_bytes(public_key: Ed25519PublicKey, signature: bytes, data: bytes) -> None:
    """Return None when the signature is valid; raise VerificationFailed otherwise."""
    if not signature_is_valid(public_key, signature, data):
        raise VerificationFailed("signature does not verify")
