"""custody/similar.json (perceptual analysis results, docs/format.md) against
the statement that signs it. Pure: a scan in, problems out. A bundle without
the file (every bundle made before it existed) is not touched."""

from __future__ import annotations

from typing import Any

from custody.base.models import Problem
from custody.bundle.format import layout
from custody.bundle.read.scan import BundleScan


def check_similar(
    scan: BundleScan, statement: dict[str, Any] | None, problems: list[Problem]
) -> None:
    found = scan.files.get(layout.SIMILAR)
    signed = statement.get("similar_sha256") if statement is not None else None
    if found is None:
        if signed is not None and layout.SIMILAR not in scan.odd_paths:
            problems.append(
                Problem("missing", layout.SIMILAR, "signed by the statement but missing")
            )
        return
    if statement is None:
        return  # the statement's own problem is reported
    if signed is None:
        problems.append(
            Problem("extra", layout.SIMILAR, "analysis results the statement does not sign")
        )
    elif found.sha256 is not None and found.sha256 != signed:
        problems.append(
            Problem(
                "statement_mismatch",
                layout.SIMILAR,
                "differs from the version the statement signed",
            )
        )
