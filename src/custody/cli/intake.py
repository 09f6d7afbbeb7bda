"""custody intake serve|invite|revoke|list|finish (the receipts' commands: cli/receipt.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from custody.cli._app import App, pass_app
from custody.cli._options import (
    json_option,
    passphrase_file_option,
    tsa_timeout_option,
    tsa_url_option,
    tsa_urls_or_env,
)

data_option = click.option(
    "--data",
    required=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="The intake's state folder (invitations, uploads, receipts, bundles).",
)


def shared_options(f: Any) -> Any:
    """--store, --endpoint-url, --database: the state several servers share."""
    f = click.option(
        "--database",
        envvar="CUSTODY_INTAKE_DATABASE",
        help="PostgreSQL URL for the shared records (default: the team's, "
        "from 'custody team join'; or $CUSTODY_INTAKE_DATABASE).",
    )(f)
    f = click.option(
        "--endpoint-url", help="The S3 endpoint of an on-premises server (MinIO, Ceph...)."
    )(f)
    return click.option(
        "--store",
        metavar="s3://BUCKET/PREFIX",
        help="Keep uploads in object storage and the records in PostgreSQL, so that "
        "several intake servers can run behind one proxy.",
    )(f)


def _shared(store: str | None, endpoint_url: str | None, database: str | None) -> Any:
    from custody.ops.intake.shared import SharedOptions

    return SharedOptions(store=store, endpoint_url=endpoint_url, database=database)


@click.group("intake")
def intake_group() -> None:
    """The witness web intake: a link for each witness, uploads that resume,
    a bundle and a signed receipt for each submission.

    \b
    Typical use:
      custody intake invite --data /srv/intake --case ICC-2026-014 --ref W1
      custody intake serve --data /srv/intake --case ICC-2026-014
      custody intake list --data /srv/intake
      custody receipt verify receipt.json --files ./what-i-sent

    docs/intake.md has the operator's guide and a reverse-proxy configuration.
    """


@intake_group.command("serve")
@data_option
@click.option("--case", required=True, help="The case every submission is ingested under.")
@click.option(
    "--bind",
    default="127.0.0.1:8400",
    show_default=True,
    help="HOST:PORT to listen on (loopback: put the unit's TLS proxy in front).",
)
@click.option(
    "--key", help="The intake key that signs bundles and receipts (default: your only key)."
)
@passphrase_file_option
@tsa_url_option
@tsa_timeout_option
@click.option(
    "--max-size",
    default="100G",
    show_default=True,
    help="The largest single upload the server announces (Tus-Max-Size).",
)
@shared_options
@pass_app
def intake_serve(
    app: App,
    data: Path,
    case: str,
    bind: str,
    key: str | None,
    passphrase_file: Path | None,
    tsa_urls: tuple[str, ...],
    tsa_timeout: float | None,
    max_size: str,
    store: str | None,
    endpoint_url: str | None,
    database: str | None,
) -> None:
    """Serve the upload page and the tus endpoint until Ctrl-C.

    Each submission a witness finishes is ingested in a separate process, signed
    by the intake key, recorded in the ledger and timestamped (--tsa or
    $CUSTODY_TSA); its receipt is kept in DATA.

    \b
    Examples:
      custody intake serve --data /srv/intake --case ICC-2026-014
      custody intake serve --data /srv/intake --case ICC-2026-014 \\
          --key intake-war-crimes-team
      custody intake serve --data /srv/intake --case ICC-2026-014 \\
          --tsa https://tsa.example.org/tsr
      custody intake serve --data /srv/intake-a --case ICC-2026-014 --store \\
          s3://evidence/intake

    With --store, uploads go to object storage and the records to PostgreSQL
    (the team's, or --database): several servers can then run behind one proxy,
    each with its own --data for its spool and the bundles it makes.

    \b
    Exit codes: 2 usage or a wrong passphrase, 3 cannot listen, 130 stopped
    (Ctrl-C, SIGTERM).
    """
    import os

    from custody.base.errors import InputError
    from custody.base.keys import find_key
    from custody.intake.invitations import parse_size
    from custody.ops.intake.serve import ServeConfig, parse_bind, serve_intake

    host, port = parse_bind(bind)
    try:
        limit = parse_size(max_size)
    except ValueError as e:
        raise InputError(str(e)) from e
    signer = app.signer(key=key, passphrase_file=passphrase_file)  # unlocks now: fails early
    pair = find_key(home=app.home, selector=key or os.environ.get("CUSTODY_KEY"))
    passphrase = None
    if pair.encrypted:
        passphrase = app._given_passphrase(passphrase_file)
        if passphrase is None:
            raise InputError(
                "serve needs the passphrase in CUSTODY_PASSPHRASE or --passphrase-file"
            )
    config = ServeConfig(
        home=app.home,
        data=data,
        case=case,
        host=host,
        port=port,
        key=pair.key_id,
        passphrase=passphrase,
        tsa_urls=tsa_urls_or_env(tsa_urls),
        max_size=limit,
        shared=_shared(store, endpoint_url, database),
    )
    app.render.info(f"Intake for case {case}, signed by {signer.name}.")
    serve_intake(config=config, on_ready=lambda url: app.render.info(f"Listening on {url}"))


@intake_group.command("invite")
@data_option
@click.option("--case", required=True, help="The case the witness's submission belongs to.")
@click.option("--ref", required=True, help="Your reference for the witness, e.g. W1.")
@click.option(
    "--url",
    "base_url",
    default="http://127.0.0.1:8400/",
    show_default=True,
    help="The public address of the intake (your TLS proxy).",
)
@click.option("--expires", default="7d", show_default=True, help="How long the link works.")
@click.option("--max-bytes", default="20G", show_default=True, help="The most bytes in all.")
@click.option("--max-files", default=1000, show_default=True, type=click.IntRange(min=1))
@click.option(
    "--opaque",
    is_flag=True,
    help="Nothing is downloaded to the witness's device: only the short code is shown.",
)
@click.option(
    "--qr",
    "qr_prefix",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write the link's QR code to QR.png and QR.svg (default: REF-invitation.*).",
)
@click.option("--no-qr", is_flag=True, help="Write no QR code.")
@json_option
@click.option("-q", "--quiet", is_flag=True, help="Print only the link.")
@shared_options
@pass_app
def intake_invite(
    app: App,
    data: Path,
    case: str,
    ref: str,
    base_url: str,
    expires: str,
    max_bytes: str,
    max_files: int,
    opaque: bool,
    qr_prefix: Path | None,
    no_qr: bool,
    json_output: bool,
    quiet: bool,
    store: str | None,
    endpoint_url: str | None,
    database: str | None,
) -> None:
    """Make a capability link for one witness (unguessable, expiring, revocable).

    Only the SHA-256 of the link's secret is kept in DATA: a lost link cannot
    be printed again (revoke it and invite again).

    \b
    Examples:
      custody intake invite --data /srv/intake --case ICC-2026-014 --ref W1
      custody intake invite --data /srv/intake --case ICC-2026-014 --ref W2 \\
          --opaque
      custody intake invite --data /srv/intake --case X --ref W3 --expires 48h \\
          --max-bytes 5G
      custody intake invite --data /srv/intake --case X --ref W4 --store \\
          s3://evidence/intake

    \b
    Exit codes: 0 made, 2 usage (another open invitation for REF), 3 I/O error.
    """
    import re

    from custody.base.errors import InputError
    from custody.intake.invitations import parse_duration, parse_size
    from custody.ops.intake.manage import invite_witness
    from custody.ops.intake.shared import open_state

    render = app.configure(json_output=json_output, quiet=quiet)
    try:
        valid_for = parse_duration(expires)
        size = parse_size(max_bytes)
    except ValueError as e:
        raise InputError(str(e)) from e
    if qr_prefix is None and not no_qr:
        qr_prefix = Path(re.sub(r"[^A-Za-z0-9._-]+", "-", ref).strip("-.") + "-invitation")
    result = invite_witness(
        data=data,
        case=case,
        ref=ref,
        base_url=base_url,
        valid_for=valid_for,
        max_bytes=size,
        max_files=max_files,
        opaque=opaque,
        qr_prefix=None if no_qr else qr_prefix,
        state=open_state(home=app.home, data=data, options=_shared(store, endpoint_url, database)),
    )
    render.intake_invite(result)


@intake_group.command("revoke")
@data_option
@click.argument("invitation")
@json_option
@shared_options
@pass_app
def intake_revoke(
    app: App,
    data: Path,
    invitation: str,
    json_output: bool,
    store: str | None,
    endpoint_url: str | None,
    database: str | None,
) -> None:
    """Withdraw an invitation (by REF or id): its link uploads nothing more.

    \b
    Examples:
      custody intake revoke --data /srv/intake W1
      custody intake revoke --data /srv/intake --store s3://evidence/intake W1

    \b
    Exit codes: 0 revoked (or already), 2 no such invitation, 3 I/O error.
    """
    from custody.ops.intake.manage import revoke_invitation
    from custody.ops.intake.shared import open_state

    render = app.configure(json_output=json_output)
    state = open_state(home=app.home, data=data, options=_shared(store, endpoint_url, database))
    render.intake_revoke(revoke_invitation(data=data, which=invitation, state=state))


@intake_group.command("list")
@data_option
@json_option
@shared_options
@pass_app
def intake_list(
    app: App,
    data: Path,
    json_output: bool,
    store: str | None,
    endpoint_url: str | None,
    database: str | None,
) -> None:
    """Show every invitation and its submission: state, files, bytes, code.

    States: open, uploading, received (finished by the witness), ingested,
    failed, expired, revoked.

    \b
    Examples:
      custody intake list --data /srv/intake
      custody intake list --data /srv/intake --json | jq '.submissions[]'
      custody intake list --data /srv/intake --store s3://evidence/intake

    \b
    Exit codes: 0 listed, 2 not an intake folder.
    """
    from custody.ops.intake.manage import list_intake

    render = app.configure(json_output=json_output)
    from custody.ops.intake.shared import open_state

    state = open_state(home=app.home, data=data, options=_shared(store, endpoint_url, database))
    render.intake_list(list_intake(data=data, state=state))


@intake_group.command("finish")
@data_option
@click.argument("submission")
@click.option("--key", help="The intake key (default: your only key).")
@passphrase_file_option
@tsa_url_option
@tsa_timeout_option
@json_option
@shared_options
@click.option(
    "--from-server",
    is_flag=True,
    hidden=True,
    help="Run by 'intake serve': a failure recorded meanwhile (by another server) stands.",
)
@pass_app
def intake_finish(
    app: App,
    data: Path,
    submission: str,
    key: str | None,
    passphrase_file: Path | None,
    tsa_urls: tuple[str, ...],
    tsa_timeout: float | None,
    json_output: bool,
    store: str | None,
    endpoint_url: str | None,
    database: str | None,
    from_server: bool,
) -> None:
    """Ingest a submission the witness finished, and sign its receipt.

    `intake serve` runs this by itself for every finished submission; run it
    by hand to retry one that failed (after fixing the cause).

    \b
    Examples:
      custody intake finish --data /srv/intake W1
      custody intake finish --data /srv/intake --store s3://evidence/intake W1

    \b
    Exit codes: 0 ingested, 1 the ledger does not check out, 2 nothing to
    finish, 3 disk full or I/O error.
    """
    from custody.ops.intake.finish import finish_submission
    from custody.ops.intake.manage import find_invitation
    from custody.ops.intake.shared import clear_failure, open_state

    render = app.configure(json_output=json_output)
    state = open_state(home=app.home, data=data, options=_shared(store, endpoint_url, database))
    inv = find_invitation(state, submission)
    if not from_server:  # by hand: try again a submission that failed
        clear_failure(state, inv.id)
    signer = app.signer(key=key, passphrase_file=passphrase_file)
    result = finish_submission(
        home=app.home,
        data=data,
        submission=inv.id,
        signer=signer,
        tsa_urls=tsa_urls_or_env(tsa_urls),
        tsa_timeout=tsa_timeout,
        on_warning=render.warning,
        state=state,
    )
    render.intake_finish(result)
