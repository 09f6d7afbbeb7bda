"""Signatures are checked by raising (verify_signature), as pyca/cryptography does; the
yes-or-no form is the same check for reports that collect every problem."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from custody.base.errors import BadSignature, VerificationFailed
from custody.base.signing import sign_bytes, signature_is_valid, verify_signature


def test_a_good_signature_passes_and_every_change_raises() -> None:
    key = Ed25519PrivateKey.generate()
    data = b"statement bytes"
    sig = sign_bytes(key, data)
    verify_signature(key.public_key(), sig, data)
    assert signature_is_valid(key.public_key(), sig, data)
    other = Ed25519PrivateKey.generate().public_key()
    bad = [
        (key.public_key(), sig, data + b"!"),  # other bytes
        (key.public_key(), bytes([sig[0] ^ 1]) + sig[1:], data),  # a flipped bit
        (key.public_key(), sig[:-1], data),  # cut short
        (other, sig, data),  # another key
    ]
    for public, signature, signed in bad:
        with pytest.raises(BadSignature) as caught:
            verify_signature(public, signature, signed)
        assert isinstance(caught.value, VerificationFailed)
        assert caught.value.exit_code == 1
        assert not signature_is_valid(public, signature, signed)
