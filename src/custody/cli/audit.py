"""custody audit."""

from __future__ import annotations

from pathlib import Path

import click

from custody.base.errors import EXIT_NOT_VERIFIED
from custody.cli._app import App, pass_app
from custody.cli._options import json_option, trust_options
from custody.ops.actions import audit_against_bundle
from custody.ops.trust import TrustOptions, load_trust_policy


@click.command("audit")
@click.argument("folder", type=click.Path(path_type=Path))
@click.argument("bundle", type=click.Path(path_type=Path))
@trust_options("trust")
@json_option
@pass_app
def audit_command(
    app: App, folder: Path, bundle: Path, trust: TrustOptions, json_output: bool
) -> None:
    """Compare FOLDER with the signed manifest of BUNDLE.

    FOLDER might be the witness's original export, or a copy found on a
    server. BUNDLE is verified first. Every file is hashed and classed as
    matched, moved or renamed (same content, other path), modified (same path,
    other content), new or missing; content present several times is counted
    as many times as it is present.

    \b
    Examples:
      custody audit /media/witness-phone ./ICC-2026-014_JS-1_...
      custody audit ./server-copy bundle.zip --json

    Exit codes: 0 the folder matches the verified bundle exactly; 1 it does
    not, or the bundle does not verify; 2 usage error or not a bundle.
    """
    render = app.configure(json_output=json_output)
    policy = load_trust_policy(home=app.home, options=trust)
    with render.progress("Auditing") as on_progress:
        result, report = audit_against_bundle(
            home=app.home,
            folder=folder,
            bundle=bundle,
            policy=policy,
            on_progress=on_progress,
        )
    render.audit(result, report)
    if not result.identical:
        click.get_current_context().exit(EXIT_NOT_VERIFIED)
