"""custody ingest."""

from __future__ import annotations

from pathlib import Path

import click

from ..actions import ingest_evidence
from ._app import App, pass_app
from .keys import json_option, passphrase_file_option


@click.command("ingest")
@click.argument("source", type=click.Path(path_type=Path, file_okay=True, dir_okay=True))
@click.option("--case", "case", required=True, help="Case identifier, e.g. ICC-2026-014.")
@click.option("--exhibit", help="Exhibit reference, e.g. JS/1.")
@click.option(
    "--key",
    "key",
    help="Signing key: id, name or fingerprint prefix (default: $CUSTODY_KEY, or your only key).",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    help="An existing folder to create the bundle in (default: the current folder), "
    "or a new path that becomes the bundle.",
)
@click.option("--note", help="Free text recorded in the signed statement.")
@click.option(
    "--no-metadata",
    is_flag=True,
    help="Do not extract metadata (records keep path, hash, size and type).",
)
@passphrase_file_option
@json_option
@click.option("-q", "--quiet", is_flag=True, help="Print only the bundle's path.")
@pass_app
def ingest_command(
    app: App,
    source: Path,
    case: str,
    exhibit: str | None,
    key: str | None,
    out: Path | None,
    note: str | None,
    no_metadata: bool,
    passphrase_file: Path | None,
    json_output: bool,
    quiet: bool,
) -> None:
    """Copy the evidence folder SOURCE into a new signed bundle.

    The source is only read. Files are copied byte for byte (modification
    times kept) and hashed as they are copied; the bundle is a BagIt 1.0 bag
    with a statement signed by your key. It is built under a hidden temporary
    name and appears only when complete. Symbolic links, FIFOs, sockets and
    devices are not copied; they are reported. The ingest is recorded in your
    ledger and the bundle carries its proof.

    \b
    Examples:
      custody ingest ./witness-phone --case ICC-2026-014 --exhibit JS/1
      custody ingest ./usb --case ICC-2026-014 --out /evidence --note "Seized at ..."
      CUSTODY_PASSPHRASE=... custody ingest ./dir --case C1 --json

    Exit codes: 0 bundle created; 2 bad source, key or options; 3 disk or I/O failure.
    """
    render = app.configure(json_output=json_output, quiet=quiet)
    signer = app.signer(key=key, passphrase_file=passphrase_file)
    with render.progress("Copying") as on_progress:
        result = ingest_evidence(
            home=app.home,
            source=source,
            case=case,
            exhibit=exhibit,
            signer=signer,
            out=out,
            note=note,
            extract_metadata=not no_metadata,
            on_progress=on_progress,
        )
    render.ingest_result(result)
