"""custody ingest (one source, several, or a list file)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from custody.base.errors import CustodyError, InputError
from custody.cli._app import App, pass_app
from custody.cli._options import (
    json_option,
    passphrase_file_option,
    tsa_timeout_option,
    tsa_url_option,
    tsa_urls_or_env,
    witnesses_from_env,
)
from custody.ops.actions import IngestRequest, ingest_evidence
from custody.ops.batch import (
    IngestJob,
    batch_exit_code,
    job_error,
    outcome_json,
    parse_job_list,
    summary_json,
)
from custody.ops.resume import discard_with_home, stopped_with_home


@click.command("ingest")
@click.argument("sources", nargs=-1, type=click.Path(path_type=Path))
@click.option("--case", "case", help="Case identifier, e.g. ICC-2026-014.")
@click.option("--exhibit", help="Exhibit reference, e.g. JS/1.")
@click.option(
    "--from",
    "from_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="A list of sources: one 'SOURCE<TAB>CASE[<TAB>EXHIBIT]' per line (a *.csv file: "
    "comma-separated), optionally under a header row 'source, case, exhibit'.",
)
@click.option(
    "--key",
    "key",
    help="Signing key: id, name or fingerprint prefix (default: $CUSTODY_KEY, or your only key).",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    help="An existing folder to create bundles in (default: the current folder), "
    "or, for one source, a new path that becomes the bundle.",
)
@click.option("--note", help="Free text recorded in the signed statement.")
@click.option(
    "--no-metadata",
    is_flag=True,
    help="Do not extract metadata (records keep path, hash, size and type).",
)
@click.option(
    "--no-similar",
    is_flag=True,
    help="Do not hash images and videos for `custody similar` (each is recorded as not analysed).",
)
@tsa_url_option
@tsa_timeout_option
@click.option(
    "--expand",
    is_flag=True,
    help="Also write the members of each ZIP under data/ARCHIVE.expanded/ as working "
    "copies, each linked to its archive member (the archive stays the evidence).",
)
@click.option(
    "--again",
    is_flag=True,
    help="Make another bundle of content already ingested under the same case and "
    "exhibit (refused without it); the ledger entry names the earlier bundle.",
)
@click.option(
    "--resume",
    is_flag=True,
    help="Continue a stopped ingest of the same source, case, exhibit and --out (the same "
    "command does so by itself); on Ctrl-C keep the partial copy to be continued.",
)
@click.option(
    "--discard",
    "discard",
    metavar="BUNDLE_ID",
    help="Remove a stopped ingest's partial copy instead of continuing it (its bundle "
    "id is in the line that names it; `custody ingest --resume` lists them).",
)
@passphrase_file_option
@json_option
@click.option("-q", "--quiet", is_flag=True, help="Print only each bundle's path (for cron).")
@pass_app
def ingest_command(
    app: App,
    sources: tuple[Path, ...],
    case: str | None,
    exhibit: str | None,
    from_file: Path | None,
    key: str | None,
    out: Path | None,
    note: str | None,
    no_metadata: bool,
    no_similar: bool,
    tsa_urls: tuple[str, ...],
    tsa_timeout: float | None,
    expand: bool,
    again: bool,
    resume: bool,
    discard: str | None,
    passphrase_file: Path | None,
    json_output: bool,
    quiet: bool,
) -> None:
    """Copy evidence folders (or single files, such as a chat .zip as handed
    over) into new signed bundles.

    Each SOURCE is only read. Files are copied byte for byte (modification
    times kept) and hashed as they are copied; the bundle is a BagIt 1.0 bag
    with a statement signed by your key. It is built under a hidden temporary
    name and appears only when complete. Symbolic links, FIFOs, sockets and
    devices are not copied; they are reported. The ingest is recorded in your
    ledger and the bundle carries its proof; with $CUSTODY_WITNESS set
    (space-separated witness URLs) that proof's checkpoint is cosigned
    first (a witness that cannot be reached is a warning).

    With --tsa URL (or $CUSTODY_TSA), each Time-Stamping Authority is asked
    for an RFC 3161 timestamp of the signature, kept in custody/timestamps/.
    A TSA that is down or answers wrongly costs one warning line, never the
    bundle: add timestamps later with `custody timestamp`.

    Several SOURCEs, or --from FILE, make a batch: each source is ingested in
    turn, a failing one is reported and the rest go on; with --json each
    source gives one JSON line, then a summary line. The list file has one
    'SOURCE<TAB>CASE<TAB>EXHIBIT' per line (CASE and EXHIBIT may be left out),
    or is CSV when named *.csv; a first row 'source, case, exhibit' (any
    order) names the columns; a line that repeats another is refused.

    A source whose content (every stored path and SHA-256) was already
    ingested under the same case and exhibit is refused in one line naming
    the earlier bundle, once it is hashed and before anything is signed or
    kept; so running the same list twice makes nothing new. --again makes
    another bundle anyway, recorded in the ledger as a repeat of the first.

    An ingest stopped at any moment (kill -9, power loss, Ctrl-C with
    --resume) continues when the same command is run again, or with
    --resume: finished copies are hashed again and kept, only the rest is
    copied, and the bundle is the one the first run would have made. A
    stopped ingest is kept until it is continued or discarded: other ingests
    name it and leave it alone. --resume alone lists the stopped ingests;
    --discard BUNDLE_ID removes one. Progress on a terminal shows files,
    bytes and the time left.

    \b
    Examples:
      custody ingest ./witness-phone --case ICC-2026-014 --exhibit JS/1
      custody ingest ./usb --case ICC-2026-014 --out /evidence --note \\
          "Seized at ..."
      custody ingest ./w1 ./w2 ./w3 --case ICC-2026-014 --out /evidence --json
      custody ingest "WhatsApp Chat - Olena K.zip" --case ICC-2026-014 --expand
      custody ingest --from sources.tsv --passphrase-file ~/.pw --out /evidence -q
      custody ingest ./usb --case ICC-2026-014 --tsa https://tsa.example.org/tsr
      # a second bundle, same content
      custody ingest ./usb --case ICC-2026-014 --again
      custody ingest ./phone --case ICC-2026-014 --exhibit JS/2 --out /evidence \\
          --resume
      custody ingest --resume             # list the stopped ingests
      custody ingest --discard 5c1e...    # remove one stopped ingest's copy

    Exit codes: 0 every bundle created; 2 bad source, key or options, or a
    source already ingested (JSON error kind `already_ingested`); 3 disk or
    I/O failure (for a batch: the most serious failure).
    """
    render = app.configure(json_output=json_output, quiet=quiet)
    if discard is not None or (resume and not sources and from_file is None):
        _stopped_ingests(app, render, discard, json_output)
        return
    jobs = [IngestJob(s, case, exhibit) for s in sources]
    if from_file is not None:
        try:
            text = from_file.read_text("utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise InputError("cannot read the list of sources", path=str(from_file)) from e
        jobs += parse_job_list(text, base=from_file.parent, default_case=case, name=str(from_file))
    if not jobs:
        raise InputError("nothing to ingest: give a SOURCE folder or --from FILE")
    single = len(jobs) == 1 and from_file is None
    if single and not case:
        raise InputError("a case id is needed: --case ID")
    if out is not None:
        _check_out(out, single=single)
    if not single and out is not None and not out.exists():
        out.mkdir()
    signer = app.signer(key=key, passphrase_file=passphrase_file)
    tsa = tsa_urls_or_env(tsa_urls)
    witnesses = witnesses_from_env()
    outcomes: list[tuple[IngestJob, Any]] = []
    for job in jobs:
        problem = job_error(job)
        try:
            if problem is not None:
                raise problem
            with render.progress(f"Copying {job.source.name}") as on_progress:
                request = IngestRequest(
                    source=job.source,
                    case=str(job.case),
                    exhibit=job.exhibit,
                    out=out,
                    note=note,
                    extract_metadata=not no_metadata,
                    analyse_similar=not no_similar,
                    expand_archives=expand,
                    tsa_urls=tuple(tsa),
                    tsa_timeout=tsa_timeout,
                    witnesses=tuple(witnesses),
                    again=again,
                    resume=resume,
                )
                result: Any = ingest_evidence(
                    home=app.home,
                    request=request,
                    signer=signer,
                    on_progress=on_progress,
                    on_warning=render.warning,
                )
        except CustodyError as e:
            if single:
                raise
            result = e
            if not json_output:
                render.error(e.diagnostics())
        outcomes.append((job, result))
        if json_output and not isinstance(result, CustodyError):
            for attempt in result.timestamps:
                if attempt["status"] != "granted":
                    render.warning(f"timestamp from {attempt['tsa']} failed: {attempt['detail']}")
        if single:
            render.ingest_result(result)
        elif json_output:
            render.json_line(outcome_json(job, result))
        elif not isinstance(result, CustodyError):
            render.ingest_result(result)
    if single:
        return
    summary = summary_json(outcomes)
    if json_output:
        render.json_line(summary)
    else:
        s = summary["summary"]
        render.info(f"{s['succeeded']} of {s['sources']} sources ingested; {s['failed']} failed")
    code = batch_exit_code(outcomes)
    if code:
        click.get_current_context().exit(code)


def _stopped_ingests(app: App, render: Any, discard: str | None, json_output: bool) -> None:
    """--resume without a source lists the stopped ingests; --discard removes one."""
    if discard is not None:
        line = discard_with_home(home=app.home, bundle_id=discard)
        if json_output:
            render.json({"discarded": discard.strip(), "detail": line})
        else:
            render.info(line)
        return
    stopped = stopped_with_home(home=app.home)
    if json_output:
        render.json(
            {
                "stopped_ingests": [
                    {
                        "bundle_id": s.head.bundle_id,
                        "case": s.head.case,
                        "exhibit": s.head.exhibit,
                        "source": s.head.source,
                        "started": s.head.created,
                        "bundle": str(s.leftover.ingest.bundle),
                        "partial": str(s.partial),
                        "finished_copies": s.finished,
                    }
                    for s in stopped
                ]
            }
        )
        return
    if not stopped:
        render.info("no stopped ingest to continue")
    for s in stopped:
        render.info(s.line())


def _check_out(out: Path, *, single: bool) -> None:
    """--out names a new bundle (one source) or a folder of bundles; either way its parent
    must exist, so that a mistyped path is an error and not a new tree of folders."""
    parent = out.absolute().parent
    if not parent.is_dir():
        raise InputError(
            f"--out: {parent} does not exist (create it first, or check the path)",
            path=str(out),
        )
    if not single and out.exists() and not out.is_dir():
        raise InputError("--out: not a folder", path=str(out))
