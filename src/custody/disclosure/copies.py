"""The copies a disclosure package holds: a copy made of pieces of a bundle file
(literal bytes, or ranges of the source), and the withheld leaves as compact runs."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Piece:
    """One piece of a copy cut from a bundle file: literal bytes (a redaction
    marker, a free box), or `size` bytes of the source from `start`, which must
    hash to the part's committed `sha256` (checked as they are copied)."""

    data: bytes | None = None
    start: int = 0
    size: int = 0
    sha256: str | None = None


@dataclass(frozen=True)
class Copy:
    """One payload file of a package: bytes made here (a tag file), a file
    streamed when written and checked then against the SHA-256 it must have (a
    bundle file disclosed intact, a derived copy), or pieces of a bundle file
    (a stripped or redacted copy, `sha256` None until written). Nothing large is
    held in memory: a 1 GiB video is copied in 1 MiB pieces."""

    sha256: str | None
    size: int
    data: bytes | None = None
    source: Path | None = None
    pieces: tuple[Piece, ...] | None = None
    member: str | None = None
    """With `source` a ZIP archive: the member (its clean name) copied out of it."""

    @classmethod
    def of(cls, data: bytes) -> Copy:
        return cls(hashlib.sha256(data).hexdigest(), len(data), data=data)


Files = dict[str, Copy]


def hash_file(path: Path) -> tuple[str, int]:
    """SHA-256 and size of a file, read in 1 MiB pieces."""
    h, n = hashlib.sha256(), 0
    with open(path, "rb") as f:
        while piece := f.read(1 << 20):
            h.update(piece)
            n += len(piece)
    return h.hexdigest(), n


def compress_withheld(withheld: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """[{leaf, basis}] as the record writes it: per basis, runs of leaf indices
    [first, last], so that withholding 100,000 files costs a few bytes."""
    by_basis: dict[str, list[int]] = {}
    for w in withheld:
        by_basis.setdefault(w["basis"], []).append(w["leaf"])
    out = []
    for basis in sorted(by_basis):
        runs: list[list[int]] = []
        for i in sorted(by_basis[basis]):
            if runs and runs[-1][1] == i - 1:
                runs[-1][1] = i
            else:
                runs.append([i, i])
        out.append({"basis": basis, "leaves": runs})
    return out
