"""custody transfer and custody receive."""

from __future__ import annotations

from pathlib import Path

import click

from custody.cli._app import App, pass_app
from custody.cli._options import (
    json_option,
    passphrase_file_option,
    trust_options,
    witnesses_from_env,
)
from custody.ops.handover import receive_custody, resolve_receiver, transfer_custody
from custody.ops.trust import TrustOptions, load_trust_policy


@click.command("transfer")
@click.argument("bundle", type=click.Path(path_type=Path))
@click.option(
    "--to",
    "to",
    metavar="PUBKEY_OR_FINGERPRINT",
    help="The receiver's public key file, or their full fingerprint.",
)
@click.option("--reason", help="Why custody passes, e.g. 'To the ICC registry'.")
@click.option(
    "--close",
    is_flag=True,
    help="Instead of a new hand-over: close the open one in BUNDLE with the receiver's "
    "receipt (--receipt).",
)
@click.option(
    "--receipt",
    "receipt",
    type=click.Path(path_type=Path, dir_okay=False),
    metavar="FILE",
    help="With --close: the receipt file the receiver exported (custody receive --export-receipt).",
)
@click.option("--key", "key", help="Your key (default: $CUSTODY_KEY, or your only key).")
@trust_options("trust")
@passphrase_file_option
@json_option
@pass_app
def transfer_command(
    app: App,
    bundle: Path,
    to: str | None,
    reason: str | None,
    close: bool,
    receipt: Path | None,
    key: str | None,
    trust: TrustOptions,
    passphrase_file: Path | None,
    json_output: bool,
) -> None:
    """Hand BUNDLE over to another person: sign a transfer record; or, with
    --close, bring the receiver's receipt back into your copy.

    The bundle must verify and you must be its current holder. The record is
    stored in the bundle (custody/chain/) and your ledger; the evidence and its
    manifest are untouched. The receiver completes it with `custody receive`
    in their copy. The bundle's ledger proof is stapled to your newest cosigned
    checkpoint; with $CUSTODY_WITNESS set, the witnesses cosign the hand-over
    first.

    Your copy then shows the hand-over as open ("VERIFIED — hand-over open")
    until the receipt is brought back: the receiver exports it with
    `custody receive BUNDLE --export-receipt receipt.json`, and you close it
    with --close --receipt. The receipt is checked in full first (signed by
    the receiver you named, countersigning exactly this hand-over of this
    bundle); a receipt that is not is refused and nothing is written.

    \b
    Examples:
      custody transfer ./ICC-2026-014_JS-1_... --to registry.pub --reason \\
          "To the ICC registry"
      custody transfer --close ./ICC-2026-014_JS-1_... --receipt receipt.json

    \b
    Exit codes (docs/exit-codes.md):
      0  handed over, or closed
      1  the bundle does not verify
      2  usage error; not the holder; a hand-over still open; a receipt refused
      3  the machine failed (an I/O error)
    """
    render = app.configure(json_output=json_output)
    if close:
        if receipt is None or to is not None or reason is not None:
            raise click.UsageError("--close takes --receipt FILE, and no --to or --reason")
        from custody.ops.handover_close import close_handover

        signer = app.signer(key=key, passphrase_file=passphrase_file)
        render.hand_over(
            close_handover(
                home=app.home,
                bundle=bundle,
                receipt_file=receipt,
                signer=signer,
                policy=load_trust_policy(home=app.home, options=trust),
            )
        )
        return
    if receipt is not None:
        raise click.UsageError("--receipt goes with --close")
    if to is None or reason is None:
        raise click.UsageError("a hand-over needs --to and --reason (or --close --receipt FILE)")
    signer = app.signer(key=key, passphrase_file=passphrase_file)
    receiver = resolve_receiver(home=app.home, value=to)
    result = transfer_custody(
        home=app.home,
        bundle=bundle,
        receiver=receiver,
        reason=reason,
        signer=signer,
        policy=load_trust_policy(home=app.home, options=trust),
        witnesses=witnesses_from_env(),
        on_warning=render.warning,
    )
    render.hand_over(result)


@click.command("receive")
@click.argument("bundle", type=click.Path(path_type=Path))
@click.option("--key", "key", help="Your key (default: $CUSTODY_KEY, or your only key).")
@click.option(
    "--export-receipt",
    "export_receipt",
    type=click.Path(path_type=Path, dir_okay=False),
    metavar="FILE",
    help="Also write your receipt to FILE (a new file) for the sender's copy; on a "
    "bundle you already received, only export.",
)
@trust_options("trust")
@passphrase_file_option
@json_option
@pass_app
def receive_command(
    app: App,
    bundle: Path,
    key: str | None,
    export_receipt: Path | None,
    trust: TrustOptions,
    passphrase_file: Path | None,
    json_output: bool,
) -> None:
    """Verify BUNDLE, then countersign the hand-over addressed to you.

    The receipt is stored in your copy and your ledger. The sender's copy
    still shows the hand-over as open until they bring your receipt back:
    --export-receipt writes it as one file (the receipt record and its
    signature) to send them; they run `custody transfer --close`.

    \b
    Examples:
      custody receive ./ICC-2026-014_JS-1_... --trust jane.pub
      custody receive ./ICC-2026-014_JS-1_... --export-receipt receipt.json
      # then the sender, with the receipt file:
      custody transfer --close ./ICC-2026-014_JS-1_... --receipt receipt.json

    \b
    Exit codes (docs/exit-codes.md):
      0  received (and exported), or exported
      1  the bundle does not verify
      2  usage error; no hand-over to you waiting; FILE already exists
      3  the machine failed (an I/O error)
    """
    render = app.configure(json_output=json_output)
    signer = app.signer(key=key, passphrase_file=passphrase_file)
    result = receive_custody(
        home=app.home,
        bundle=bundle,
        signer=signer,
        policy=load_trust_policy(home=app.home, options=trust),
        witnesses=witnesses_from_env(),
        on_warning=render.warning,
        export_receipt=export_receipt,
    )
    render.hand_over(result)
