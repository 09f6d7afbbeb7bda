"""custody timestamp: add RFC 3161 timestamps to a bundle later."""

from __future__ import annotations

from pathlib import Path

import click

from custody.base.errors import EXIT_ENVIRONMENT
from custody.cli._app import App, pass_app
from custody.cli._options import (
    json_option,
    passphrase_file_option,
    tsa_timeout_option,
    tsa_url_option,
    tsa_urls_or_env,
)


@click.command("timestamp")
@click.argument("bundle", type=click.Path(path_type=Path))
@tsa_url_option
@tsa_timeout_option
@click.option("--key", "key", help="Your key, for the ledger entry (default: your only key).")
@passphrase_file_option
@json_option
@pass_app
def timestamp_command(
    app: App,
    bundle: Path,
    tsa_urls: tuple[str, ...],
    tsa_timeout: float | None,
    key: str | None,
    passphrase_file: Path | None,
    json_output: bool,
) -> None:
    """Add RFC 3161 timestamps to BUNDLE (a bundle folder), e.g. back from a
    scene that had no network.

    Each TSA stamps the exact bytes of custody/statement.sig; its reply is
    stored whole as custody/timestamps/N.tsr and listed in the tag manifest.
    The statement, its signature and the evidence are untouched; a token is
    never replaced, only added. Each token is recorded in your ledger (a
    `timestamp` entry with its SHA-256). An interruption leaves the bundle as
    it was, or with the new token whole (listed by the next run).

    \b
    Examples:
      custody timestamp ./ICC-2026-014_JS-1_20261125T120000Z \\
          --tsa https://tsa.example.org/tsr
      CUSTODY_TSA="https://tsa1.example/tsr https://tsa2.example/tsr" \\
          custody timestamp ./B

    \b
    Exit codes:
      0  at least one timestamp added (a failing TSA is a warning)
      2  BUNDLE is not a bundle folder, or no TSA was given
      3  no TSA answered with a usable timestamp: nothing was added
    """
    from custody.base.errors import InputError
    from custody.io.ledger_store import Ledger
    from custody.ops.stamp import read_signature, timestamp_bundle

    render = app.configure(json_output=json_output)
    urls = tsa_urls_or_env(tsa_urls)
    if not urls:
        raise InputError("no TSA given: use --tsa URL, or set CUSTODY_TSA")
    read_signature(bundle)  # a bad BUNDLE is named before any passphrase is asked
    signer = app.signer(key=key, passphrase_file=passphrase_file)
    with Ledger.open(app.home) as ledger:
        ledger.ensure_intact()  # before any TSA is asked
        result = timestamp_bundle(
            bundle=bundle, urls=urls, ledger=ledger, signer=signer, timeout=tsa_timeout
        )
    render.timestamp_result(result)
    if not result.stored:
        click.get_current_context().exit(EXIT_ENVIRONMENT)
