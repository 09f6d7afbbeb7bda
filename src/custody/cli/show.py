"""custody show."""

from __future__ import annotations

from pathlib import Path

import click

from custody.cli._app import App, pass_app
from custody.cli._options import json_option
from custody.ops.show import read_metadata


@click.command("show")
@click.argument("bundle", type=click.Path(path_type=Path))
@click.option(
    "--recheck",
    is_flag=True,
    help="Validate the C2PA manifests again with the trust list installed today "
    "and report what changed since ingest.",
)
@click.option(
    "--chat",
    "chat",
    metavar="PATH",
    help="Print the conversation of the chat export at PATH (as in the bundle, "
    "e.g. _chat.txt or chat.zip/_chat.txt), with attachment hashes.",
)
@click.option(
    "--scope",
    "scope_record",
    type=click.Path(path_type=Path, file_okay=False),
    help="Show only the items this scope record (custody select) selected.",
)
@json_option
@pass_app
def show_command(
    app: App,
    bundle: Path,
    recheck: bool,
    chat: str | None,
    scope_record: Path | None,
    json_output: bool,
) -> None:
    """Show what was extracted from each file of BUNDLE at ingest: type,
    capture time, place, device, duration, C2PA Content Credentials (a
    folder, .zip or .tar). The members of a ZIP handed over as evidence are
    listed under it.

    Times keep the zone the file gave; a time without a zone is the device's
    local time, zone unknown. This shows the recorded metadata; `custody
    verify` proves it is the signed one. --recheck adds today's C2PA
    validation beside the recorded one (the record itself never changes).

    \b
    Examples:
      custody show ./ICC-2026-014_JS-1_20261125T120000Z
      custody show bundle.zip --json | jq '.files[] | select(.gps != null)'
      custody show ./ICC-2026-014_JS-1_20261125T120000Z --recheck
      custody show ./bundle --chat "WhatsApp Chat - Olena K.zip/_chat.txt"
      custody show ./ICC-2026-014_W1 \\
          --scope ./ICC-2026-014_W1.scope-20260303T101500Z
    """
    render = app.configure(json_output=json_output)
    if scope_record is None and chat is None and not recheck:  # streamed (issue 26)
        from custody.ops.show_stream import open_metadata

        render.metadata_stream(open_metadata(bundle=bundle))
        return
    result = read_metadata(bundle=bundle)
    if scope_record is not None:  # only what the scope selected
        from custody.ops.scope_show import limit_to_scope

        result = limit_to_scope(result, record=scope_record)
    if chat is not None:
        from custody.ops.chat import read_chat

        render.chat(read_chat(bundle=bundle, metadata=result, path=chat))
        return
    if not recheck:
        render.metadata(result)
        return
    from custody.ops.recheck import recheck_c2pa

    checked = recheck_c2pa(bundle=bundle)
    if json_output:
        render.json({**result.to_json(), "c2pa_recheck": checked.to_json()})
        return
    render.metadata(result)
    render.c2pa_recheck(checked)
