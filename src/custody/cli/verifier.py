"""custody verifier."""

from __future__ import annotations

from pathlib import Path

import click

from custody.cli._app import App, pass_app
from custody.cli._options import json_option
from custody.ops.verifier_page import write_verifier_page


@click.command("verifier")
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    default=Path("verify-bundle.html"),
    show_default=True,
    help="Where to write the page (replaced atomically if it exists).",
)
@json_option
@pass_app
def verifier_command(app: App, output: Path, json_output: bool) -> None:
    """Write the offline verifier page: one self-contained HTML file that
    checks a bundle in any current browser, with nothing installed.

    Open the page from a USB stick or an e-mail attachment, choose the
    officer's public key (or type its fingerprint) and a bundle folder or
    .zip: it checks what `custody verify` checks from the bundle alone and
    names the same problems. It makes no network request of any kind (its
    Content-Security-Policy forbids them).

    The page's SHA-256 is printed on stdout in `sha256sum` form, so that a
    court can publish the hash of the copy it uses and anyone can check it.

    \b
    Examples:
      custody verifier -o verify-bundle.html
      custody verifier -o /media/usb/verify-bundle.html --json
      sha256sum -c <<< "$(custody verifier -o verify-bundle.html)"
    """
    render = app.configure(json_output=json_output)
    page = write_verifier_page(output=output)
    render.verifier_page(page)
