"""The analysis of a new bundle's payload at ingest: every image and video,
in the worker pool (custody.workers), results in path order for
custody/similar.json."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from custody.base.workers import run_parallel
from custody.similar.analyse import (
    SWITCHED_OFF,
    algorithm,
    analyse_file,
    kind_of,
    missing_dependency,
)
from custody.similar.document import Analysis, similar_document


@dataclass(frozen=True)
class PayloadFile:
    """A copied file: its path under data/, SHA-256 and sniffed type."""

    rel: str
    sha256: str
    mime: str | None


@dataclass(frozen=True)
class PayloadAnalysis:
    document: bytes | None
    """custody/similar.json, or None when the payload has no image or video."""
    analysed: int
    not_analysed: int
    warning: str | None


def analyse_payload(
    files: Sequence[PayloadFile],
    data_dir: Path,
    *,
    enabled: bool = True,
    workers: int | None = None,
) -> PayloadAnalysis:
    """Analyse every image and video among `files` (copies under `data_dir`).
    With `enabled` false each is recorded as not analysed, with the reason."""
    media = [(f, kind) for f in files if (kind := kind_of(f.mime, f.rel)) is not None]
    if not media:
        return PayloadAnalysis(None, 0, 0, None)
    missing = missing_dependency()
    reason = SWITCHED_OFF if not enabled else missing

    def one(item: tuple[PayloadFile, str], stop: threading.Event) -> Analysis:
        f, kind = item
        if reason is not None:
            return Analysis(f.rel, f.sha256, kind, not_analysed=reason)
        return analyse_file(data_dir / f.rel, rel_path=f.rel, sha256=f.sha256, kind=kind)

    records = run_parallel(one, media, workers=workers)
    failed = sum(1 for r in records if r.not_analysed is not None)
    warning = None
    if missing is not None and enabled:
        warning = f"{missing}: {len(records)} images and videos recorded as not analysed"
    return PayloadAnalysis(
        similar_document(records, algorithm="none" if reason else algorithm()),
        len(records) - failed,
        failed,
        warning,
    )
