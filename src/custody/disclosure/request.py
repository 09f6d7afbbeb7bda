"""What the officer decided for each item: one value the command line builds."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Derived:
    file: Path
    method: str


@dataclass(frozen=True)
class DisclosureRequest:
    """Every decision of one disclosure. Paths are bundle paths (`data/...`);
    anything not named is disclosed intact. With `reveal`, only those paths
    are disclosed (intact) and everything else is withheld as outside the
    supplement."""

    to: str
    basis: str | None = None
    withhold: tuple[str, ...] = ()
    strip: tuple[str, ...] = ()
    redact: dict[str, tuple[int, ...]] = field(default_factory=dict)
    derived: dict[str, Derived] = field(default_factory=dict)
    withhold_fields: dict[str, tuple[str, ...]] = field(default_factory=dict)
    disclose_note: bool = False
    reveal: tuple[str, ...] = ()
    supplement_to: str | None = None

    @property
    def partial(self) -> bool:
        """Whether anything but a whole disclosure was asked for."""
        return bool(
            self.withhold
            or self.strip
            or self.redact
            or self.derived
            or self.withhold_fields
            or self.reveal
        )


def parse_ranges(text: str) -> tuple[int, ...]:
    """'12-15,40' -> (12, 13, 14, 15, 40); raises ValueError."""
    out: set[int] = set()
    for piece in text.split(","):
        piece = piece.strip()
        if "-" in piece:
            a, b = piece.split("-", 1)
            lo, hi = int(a), int(b)
            if lo < 1 or hi < lo:
                raise ValueError(f"bad range {piece!r}")
            out.update(range(lo, hi + 1))
        else:
            n = int(piece)
            if n < 1:
                raise ValueError(f"bad message number {piece!r}")
            out.add(n)
    return tuple(sorted(out))


def bundle_path(path: str) -> str:
    """A path as the user wrote it, as a bundle path under data/."""
    path = path.strip().lstrip("./") if path.startswith("./") else path.strip()
    return path if path.startswith("data/") else f"data/{path}"
