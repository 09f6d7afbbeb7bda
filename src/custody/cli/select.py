"""custody select."""

from __future__ import annotations

from pathlib import Path

import click

from custody.cli._app import App, pass_app
from custody.cli._options import json_option, passphrase_file_option


@click.command("select")
@click.argument("bundle", type=click.Path(path_type=Path))
@click.option(
    "--where",
    "where",
    required=True,
    metavar="FILTER",
    help="Which items: comparisons on captured, type, chat, path, device, size joined "
    "by and/or/not and parentheses (docs/extraction.md).",
)
@click.option(
    "--notice",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="The notice given to the witness (kept byte for byte in the record).",
)
@click.option("--reason", required=True, help="Why these items are necessary and proportionate.")
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    help="The record folder to create (default: BUNDLE.scope-<time> beside the bundle).",
)
@click.option("--key", "key", help="Signing key (default: $CUSTODY_KEY, or your only key).")
@passphrase_file_option
@json_option
@pass_app
def select_command(
    app: App,
    bundle: Path,
    where: str,
    notice: Path,
    reason: str,
    out: Path | None,
    key: str | None,
    passphrase_file: Path | None,
    json_output: bool,
) -> None:
    """Record which items of BUNDLE were taken, under which notice and why: a
    signed scope record, appended to your ledger.

    The filter is evaluated over every item of the bundle: each file, each
    member of a ZIP handed over, each member of a phone extraction (UFDR,
    iOS backup, Android tar). The record folder keeps the notice's exact
    bytes, the filter, the reason, and the selected items (selected.jsonl,
    with its SHA-256 and Merkle root in the signed scope.json).
    `custody show BUNDLE --scope RECORD` shows only what it selects;
    `custody verify BUNDLE --scope RECORD --used LIST` checks it and lists
    anything used outside it.

    \b
    Examples:
      custody select W1 --notice n.pdf --where 'type = image' --reason Photos
      custody select W1 --notice n.pdf --where 'captured >= 2022-02-24' --reason R
      custody select W1 --notice n.pdf --where 'chat = "Олена К"' --reason Chat
      custody select W1 --notice n.pdf --where 'device ~ "*/DCIM/*"' --reason R

    \b
    Exit codes: 0 recorded; 2 a bad filter (with its column), a missing notice
    or reason, not a bundle, metadata that is not the signed one; 1 a damaged
    ledger; 3 the machine failed.
    """
    from custody.ops.select import select_items

    render = app.configure(json_output=json_output)
    signer = app.signer(key=key, passphrase_file=passphrase_file)
    result = select_items(
        home=app.home,
        bundle=bundle,
        where=where,
        notice=notice,
        reason=reason,
        signer=signer,
        out=out,
    )
    render.scope_selected(result)
