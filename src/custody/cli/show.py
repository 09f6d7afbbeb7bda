"""custody show."""

from __future__ import annotations

from pathlib import Path

import click

from ..bundle.show import read_metadata
from ._app import App, pass_app
from ._options import json_option


@click.command("show")
@click.argument("bundle", type=click.Path(path_type=Path))
@json_option
@pass_app
def show_command(app: App, bundle: Path, json_output: bool) -> None:
    """Show what was extracted from each file of BUNDLE at ingest: type,
    capture time, place, device, duration (a folder, .zip or .tar).

    Times keep the zone the file gave; a time without a zone is the device's
    local time, zone unknown. This shows the recorded metadata; `custody
    verify` proves it is the signed one.

    \b
    Examples:
      custody show ./ICC-2026-014_JS-1_20261125T120000Z
      custody show bundle.zip --json | jq '.files[] | select(.gps != null)'
    """
    render = app.configure(json_output=json_output)
    result = read_metadata(bundle=bundle)
    render.metadata(result)
