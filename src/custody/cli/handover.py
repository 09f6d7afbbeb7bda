"""custody transfer and custody receive."""

from __future__ import annotations

from pathlib import Path

import click

from ..handover import receive_custody, resolve_receiver, transfer_custody
from ._app import App, pass_app
from ._options import (
    json_option,
    passphrase_file_option,
    trust_option,
    trust_policy,
    witnesses_from_env,
)


@click.command("transfer")
@click.argument("bundle", type=click.Path(path_type=Path))
@click.option(
    "--to",
    "to",
    required=True,
    metavar="PUBKEY_OR_FINGERPRINT",
    help="The receiver's public key file, or their full fingerprint.",
)
@click.option("--reason", required=True, help="Why custody passes, e.g. 'To the ICC registry'.")
@click.option("--key", "key", help="Your key (default: $CUSTODY_KEY, or your only key).")
@passphrase_file_option
@json_option
@pass_app
def transfer_command(
    app: App,
    bundle: Path,
    to: str,
    reason: str,
    key: str | None,
    passphrase_file: Path | None,
    json_output: bool,
) -> None:
    """Hand BUNDLE over to another person: sign a transfer record.

    The bundle must verify and you must be its current holder. The record is
    stored in the bundle (custody/chain/) and your ledger; the evidence and its
    manifest are untouched. The receiver completes it with `custody receive`.
    The bundle's ledger proof is stapled to your newest cosigned checkpoint;
    with $CUSTODY_WITNESS set, the witnesses cosign the hand-over first.

    \b
    Example:
      custody transfer ./ICC-2026-014_JS-1_... --to registry.pub --reason "To the ICC registry"
    """
    render = app.configure(json_output=json_output)
    signer = app.signer(key=key, passphrase_file=passphrase_file)
    receiver = resolve_receiver(home=app.home, value=to)
    result = transfer_custody(
        home=app.home,
        bundle=bundle,
        receiver=receiver,
        reason=reason,
        signer=signer,
        witnesses=witnesses_from_env(),
        on_warning=render.warning,
    )
    render.hand_over(result)


@click.command("receive")
@click.argument("bundle", type=click.Path(path_type=Path))
@click.option("--key", "key", help="Your key (default: $CUSTODY_KEY, or your only key).")
@trust_option
@passphrase_file_option
@json_option
@pass_app
def receive_command(
    app: App,
    bundle: Path,
    key: str | None,
    trust: tuple[str, ...],
    passphrase_file: Path | None,
    json_output: bool,
) -> None:
    """Verify BUNDLE, then countersign the hand-over addressed to you.

    \b
    Example:
      custody receive ./ICC-2026-014_JS-1_... --trust jane.pub
    """
    render = app.configure(json_output=json_output)
    signer = app.signer(key=key, passphrase_file=passphrase_file)
    result = receive_custody(
        home=app.home,
        bundle=bundle,
        signer=signer,
        policy=trust_policy(app.home, trust=trust),
        witnesses=witnesses_from_env(),
        on_warning=render.warning,
    )
    render.hand_over(result)
