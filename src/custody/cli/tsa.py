"""custody tsa trust|list: the TSA roots you trust for timestamps."""

from __future__ import annotations

from pathlib import Path

import click

from custody.cli._app import App, pass_app
from custody.cli._options import json_option


@click.group("tsa")
def tsa_group() -> None:
    """The Time-Stamping Authority roots you trust.

    A timestamp proves when a bundle was signed only when its TSA's
    certificate chains to a root you chose here (or with verify --tsa-root).
    Certificates carried inside a token or a bundle are never roots.

    \b
    Examples:
      custody tsa trust tsa-root.pem
      custody tsa list
    """


@tsa_group.command("trust")
@click.argument("root", type=click.Path(path_type=Path, dir_okay=False))
@json_option
@pass_app
def tsa_trust(app: App, root: Path, json_output: bool) -> None:
    """Trust ROOT (a PEM or DER certificate) as a TSA root. Check its SHA-256
    fingerprint with the TSA before you do.

    \b
    Examples:
      custody tsa trust tsa-root.pem

    Exit codes: 0 trusted; 2 ROOT is not a certificate.
    """
    from custody.tsa.roots import trust_tsa_root

    render = app.configure(json_output=json_output)
    render.tsa_roots(trust_tsa_root(home=app.home, path=root), verb="Trusted")


@tsa_group.command("list")
@json_option
@pass_app
def tsa_list(app: App, json_output: bool) -> None:
    """The TSA roots you trust.

    \b
    Examples:
      custody tsa list
      custody tsa list --json
    """
    from custody.tsa.roots import list_tsa_roots

    render = app.configure(json_output=json_output)
    render.tsa_roots(list_tsa_roots(home=app.home), verb=None)
