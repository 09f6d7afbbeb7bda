"""Batch ingests: several sources, or a list file, continuing past failures."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from custody.base.errors import CustodyError, InputError


@dataclass(frozen=True)
class IngestJob:
    """One source to ingest, with its case id and exhibit reference."""

    source: Path
    case: str | None
    exhibit: str | None
    line: int | None = None  # line number in the list file


COLUMNS = ("source", "case", "exhibit")


def parse_job_list(
    text: str, *, base: Path, default_case: str | None, name: str = ""
) -> list[IngestJob]:
    """Jobs from a list file: one `SOURCE<TAB>CASE[<TAB>EXHIBIT]` per line, or a
    bare SOURCE that takes --case. A file named `*.csv` is read as CSV (RFC 4180
    quoting). A first row naming the columns (`source`, `case`, `exhibit`, in any
    order) is a header and sets their order. Blank lines and lines starting with
    '#' are skipped; relative sources are relative to the list file's folder.

    Raises InputError, naming the line, for a line that looks comma-separated in
    a tab-separated file and for a line that repeats an earlier one."""
    is_csv = name.lower().endswith(".csv")
    rows = _csv_rows(text, name) if is_csv else _tsv_rows(text)
    order: tuple[str, ...] = COLUMNS
    jobs: list[IngestJob] = []
    seen: dict[tuple[Path, str | None, str | None], int] = {}
    for number, fields in rows:
        if not fields or not "".join(fields).strip() or fields[0].lstrip().startswith("#"):
            continue
        header = tuple(f.strip().lower() for f in fields)
        if not jobs and not seen and "source" in header and set(header) <= set(COLUMNS):
            order = header
            continue
        if not is_csv and len(fields) == 1 and _looks_comma_separated(fields[0], base):
            raise InputError(
                f"line {number} looks comma-separated: name the file *.csv, "
                "or separate the fields with tabs",
                path=name or None,
            )
        values = dict(zip(order, (f.strip() for f in fields), strict=False))
        source = Path(values.get("source", ""))
        if not source.is_absolute():
            source = base / source
        case = values.get("case") or default_case
        exhibit = values.get("exhibit") or None
        key = (source, case, exhibit)
        if key in seen:
            raise InputError(
                f"line {number} repeats line {seen[key]} (same source, case and exhibit)",
                path=name or None,
            )
        seen[key] = number
        jobs.append(IngestJob(source, case, exhibit, number))
    return jobs


def _tsv_rows(text: str) -> list[tuple[int, list[str]]]:
    return [(n, raw.rstrip("\r").split("\t")) for n, raw in enumerate(text.splitlines(), 1)]


def _csv_rows(text: str, name: str) -> list[tuple[int, list[str]]]:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        return [(reader.line_num, row) for row in reader]
    except csv.Error as e:
        raise InputError(f"line {reader.line_num}: not CSV ({e})", path=name or None) from e


def _looks_comma_separated(line: str, base: Path) -> bool:
    """A tab-free line with a comma whose first comma-separated part is a source that
    exists while the whole line is not: a CSV row in a tab-separated file."""
    if "," not in line:
        return False
    whole = Path(line.strip())
    first = Path(line.split(",")[0].strip())
    if not whole.is_absolute():
        whole, first = base / whole, base / first
    return first.exists() and not whole.exists()


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
