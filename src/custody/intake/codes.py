"""The short code a witness can quote on the phone: four words of the BIP-39
English list (2048 words, so 44 bits), taken from the SHA-256 of the
receipt's signed bytes. Pure, given the word list."""

from __future__ import annotations

import hashlib
from functools import cache

WORDS = 4


@cache
def wordlist() -> tuple[str, ...]:
    from mnemonic import Mnemonic

    words = tuple(Mnemonic("english").wordlist)
    if len(words) != 2048:  # pragma: no cover - the list is fixed by BIP-39
        raise RuntimeError("the BIP-39 English word list has changed")
    return words


def short_code(signed: bytes) -> str:
    """`word-word-word-word` for these signed receipt bytes."""
    number = int.from_bytes(hashlib.sha256(signed).digest()[:8], "big") >> (64 - 11 * WORDS)
    words = wordlist()
    out = []
    for i in range(WORDS):
        out.append(words[(number >> (11 * (WORDS - 1 - i))) & 0x7FF])
    return "-".join(out)


def normalise_code(text: str) -> str:
    """A code as typed (spaces, capitals) in its one spelling."""
    return "-".join(w for w in text.strip().lower().replace(" ", "-").split("-") if w)
