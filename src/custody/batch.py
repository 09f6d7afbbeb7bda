"""Batch ingests: several sources, or a list file, continuing past failures."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import CustodyError, InputError


@dataclass(frozen=True)
class IngestJob:
    """One source to ingest, with its case id and exhibit reference."""

    source: Path
    case: str | None
    exhibit: str | None
    line: int | None = None  # line number in the list file


def parse_job_list(text: str, *, base: Path, default_case: str | None) -> list[IngestJob]:
    """Jobs from a list file: one `SOURCE<TAB>CASE[<TAB>EXHIBIT]` per line, or a
    bare SOURCE that takes --case. Blank lines and lines starting with '#' are
    skipped; relative sources are relative to the list file's folder."""
    jobs = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip("\r")
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        fields = line.split("\t")
        source = Path(fields[0].strip())
        if not source.is_absolute():
            source = base / source
        case = fields[1].strip() if len(fields) > 1 and fields[1].strip() else default_case
        exhibit = fields[2].strip() if len(fields) > 2 and fields[2].strip() else None
        jobs.append(IngestJob(source, case, exhibit, number))
    return jobs


def job_error(job: IngestJob) -> InputError | None:
    """Why a job cannot even start, or None."""
    if not job.case:
        where = f" (line {job.line})" if job.line else ""
        return InputError(
            f"no case id{where}: give one in the list or with --case", path=str(job.source)
        )
    return None


def outcome_json(job: IngestJob, result: Any) -> dict[str, Any]:
    """One JSON Lines record for a job: its result, or its error."""
    head: dict[str, Any] = {"source": str(job.source), "case": job.case}
    if isinstance(result, CustodyError):
        return {
            **head,
            "ok": False,
            "error": {
                "kind": result.kind,
                "path": result.path,
                "message": result.message,
                "exit_code": result.exit_code,
            },
        }
    return {**head, "ok": True, **result.to_json()}


def summary_json(outcomes: list[tuple[IngestJob, Any]]) -> dict[str, Any]:
    failed = [j for j, r in outcomes if isinstance(r, CustodyError)]
    return {
        "summary": {
            "sources": len(outcomes),
            "succeeded": len(outcomes) - len(failed),
            "failed": len(failed),
            "failed_sources": [str(j.source) for j in failed],
        }
    }


def batch_exit_code(outcomes: list[tuple[IngestJob, Any]]) -> int:
    """0 when every source was ingested, else the most serious failure's code."""
    codes = [r.exit_code for _, r in outcomes if isinstance(r, CustodyError)]
    return max(codes, default=0)
