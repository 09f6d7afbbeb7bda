"""custody verify."""

from __future__ import annotations

import os
from pathlib import Path

import click

from ..bundle.verify import verify_bundle
from ..errors import EXIT_NOT_VERIFIED, InputError
from ..keys import PublicKeyInfo, normalise_fingerprint, read_public_key_file, trusted_keys
from ._app import App, pass_app
from .keys import json_option


def _resolve_trust(values: tuple[str, ...]) -> tuple[list[PublicKeyInfo], set[str]]:
    keys: list[PublicKeyInfo] = []
    fingerprints: set[str] = set()
    for value in values:
        if os.path.exists(value):
            keys.append(read_public_key_file(Path(value)))
            continue
        fp = normalise_fingerprint(value)
        if fp is None:
            raise InputError(
                "--trust takes a public key file or a full 64-digit fingerprint", path=value
            )
        fingerprints.add(fp)
    return keys, fingerprints


@click.command("verify")
@click.argument("bundle", type=click.Path(path_type=Path))
@click.option(
    "--trust",
    "trust",
    multiple=True,
    metavar="KEY_OR_FINGERPRINT",
    help="Also trust this public key file or full fingerprint (repeatable).",
)
@click.option(
    "--no-trust-store",
    is_flag=True,
    help="Trust only the keys given with --trust, not $CUSTODY_HOME's trust store.",
)
@json_option
@click.option("-q", "--quiet", is_flag=True, help="Print only the verdict and problems.")
@pass_app
def verify_command(
    app: App,
    bundle: Path,
    trust: tuple[str, ...],
    no_trust_store: bool,
    json_output: bool,
    quiet: bool,
) -> None:
    """Prove that BUNDLE is intact, complete and signed by a key you trust.

    BUNDLE is a bundle folder, or a .zip, .tar or .tar.gz of one (read in
    place, nothing extracted). Every file is checked and every problem is
    listed, one line each. A valid signature by a key you do not trust is
    NOT verified.

    \b
    Examples:
      custody verify ./ICC-2026-014_JS-1_20261125T120000Z
      custody verify bundle.zip --trust jane.pub
      custody verify bundle.tar.gz --trust "3f2a 9c01 ..." --json

    \b
    Exit codes:
      0  verified
      1  not verified (changed, missing or extra files, bad signature, untrusted signer...)
      2  usage error, or BUNDLE is not a bundle
    """
    render = app.configure(json_output=json_output, quiet=quiet)
    keys, fingerprints = _resolve_trust(trust)
    if not no_trust_store:
        keys.extend(trusted_keys(home=app.home))
    with render.progress("Verifying") as on_progress:
        report = verify_bundle(
            bundle=bundle, trusted=keys, trusted_fingerprints=fingerprints, on_progress=on_progress
        )
    render.verify_report(report)
    if not report.verified:
        click.get_current_context().exit(EXIT_NOT_VERIFIED)
