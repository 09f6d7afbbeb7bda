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
    as_members: tuple[str, ...] = ()
    """Archives disclosed as their members although no member is named (under a
    scope record that selects the members and not the archive itself)."""
    bases: dict[str, str] = field(default_factory=dict)
    """Per decision, its own basis (several grounds in one run), keyed
    `withhold:PATH`, `redact:PATH`, `derived:PATH` or `field:PATH:NAME`;
    a decision not named here takes `basis`."""

    def basis_of(self, key: str) -> str:
        """The ground of one decision: its own, else the run's default."""
        return self.bases.get(key, self.basis or "")

    @property
    def needs_basis(self) -> list[str]:
        """The keys of every decision that must give a ground."""
        return [
            *(f"withhold:{p}" for p in self.withhold),
            *(f"redact:{p}" for p in self.redact),
            *(f"derived:{p}" for p in self.derived),
            *(f"field:{p}:{n}" for p, names in self.withhold_fields.items() for n in names),
        ]

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


BASIS = "basis"


def assign_bases(events: list[tuple[str, str]]) -> tuple[str | None, dict[str, str]]:
    """Pair each decision with its ground, from the options in command-line order.

    `events` is ("basis", TEXT) for each --basis and (KEY, "") for each decision
    that needs one. With at most one --basis it covers every decision (as
    before several grounds existed). Otherwise a --basis given after one or more
    decisions is theirs (those since the previous --basis); a --basis that
    follows no decision is the default for the decisions left without one.
    Returns (default, {key: basis}); raises ValueError naming a decision that
    has no ground, or two defaults."""
    texts = [text for kind, text in events if kind == BASIS]
    if len(texts) <= 1:
        return (texts[0] if texts else None), {}
    default: str | None = None
    pending: list[str] = []
    out: dict[str, str] = {}
    for kind, text in events:
        if kind != BASIS:
            pending.append(kind)
        elif pending:
            out.update((key, text) for key in pending)
            pending = []
        elif default is not None and default != text:
            raise ValueError(
                f"--basis {text!r} and --basis {default!r} both follow no decision: "
                "give each --basis after the --withhold it is the ground for"
            )
        else:
            default = text
    if pending and default is None:
        raise ValueError(f"{pending[0].split(':', 1)[1]}: no --basis after it, and no default")
    out.update((key, default) for key in pending if default is not None)
    return default, out
