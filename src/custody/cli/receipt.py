"""custody receipt verify|prove: a witness's receipt checked offline, and a later
proof that the unit's ledger still holds it (docs/intake.md)."""

from __future__ import annotations

from pathlib import Path

import click

from custody.cli._app import App, pass_app
from custody.cli._options import (
    json_option,
    trust_options,
)
from custody.ops.trust import TrustOptions, load_trust_policy


@click.group("receipt")
def receipt_group() -> None:
    """Check a witness's receipt from the web intake, offline.

    \b
    Examples:
      custody receipt verify receipt.json --trust intake.pub --files ./what-i-sent
      custody receipt prove receipt.json -o later.json     # where the unit's ledger is
      custody receipt verify receipt.json --against later.json
    """


@receipt_group.command("verify")
@click.argument("receipt", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--files",
    type=click.Path(path_type=Path, file_okay=False),
    help="A folder that must hold exactly the files received (names are not compared).",
)
@click.option(
    "--against",
    type=click.Path(path_type=Path, dir_okay=False),
    help="A later proof ('custody receipt prove'), or a later checkpoint of this "
    "home's ledger: it must still contain the receipt.",
)
@trust_options("trust", "register", "tsa-root")
@json_option
@click.option("-q", "--quiet", is_flag=True, help="Print only the verdict and problems.")
@pass_app
def receipt_verify(
    app: App,
    receipt: Path,
    files: Path | None,
    against: Path | None,
    trust: TrustOptions,
    json_output: bool,
    quiet: bool,
) -> None:
    """Check a receipt: the intake key's signature and its register status, the
    timestamp, the ledger inclusion proof, the files' Merkle root and code.

    \b
    Examples:
      custody receipt verify receipt.json --trust intake.pub
      custody receipt verify receipt.json --register unit-register.json \\
          --files ./sent
      custody receipt verify receipt.json --against later-proof.json --json

    \b
    Exit codes: 0 verified, 1 not verified (read the problems), 2 not a receipt
    or usage, 3 I/O error.
    """
    from custody.base.errors import EXIT_NOT_VERIFIED
    from custody.ops.intake.receipts import verify_receipt

    render = app.configure(json_output=json_output, quiet=quiet)
    policy = load_trust_policy(home=app.home, options=trust)
    report = verify_receipt(
        home=app.home, receipt=receipt, policy=policy, files=files, against=against
    )
    render.receipt_report(report)
    if not report.verified:
        click.get_current_context().exit(EXIT_NOT_VERIFIED)


@receipt_group.command("prove")
@click.argument("receipt", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write the proof here instead of stdout.",
)
@pass_app
def receipt_prove(app: App, receipt: Path, output: Path | None) -> None:
    """Prove the ledger here still holds a receipt's entry: an inclusion proof
    into today's checkpoint, for `receipt verify --against`.

    \b
    Examples:
      custody receipt prove receipt.json -o later-proof.json

    \b
    Exit codes: 0 written, 1 the ledger does not check out, 2 not this ledger's
    receipt.
    """
    from custody.ops.intake.receipts import prove_receipt

    result = prove_receipt(home=app.home, receipt=receipt, out=output)
    if output is None:
        click.echo(result.data.decode(), nl=False)
