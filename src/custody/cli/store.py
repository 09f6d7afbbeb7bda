"""custody store: bundles in write-once S3 object storage."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from custody.base.errors import EXIT_NOT_VERIFIED, InputError
from custody.cli._app import App, pass_app
from custody.cli._options import (
    endpoint_url_option,
    json_option,
    passphrase_file_option,
    trust_options,
)
from custody.ops.trust import TrustOptions, load_trust_policy


def _parse_date(value: str) -> datetime:
    """YYYY-MM-DD (end of that day is not implied: 00:00 UTC) or an ISO 8601
    date and time; a time without a zone is UTC."""
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as e:
        raise InputError(f"--retain-until {value!r} is not a date (YYYY-MM-DD or ISO 8601)") from e
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


@click.group("store")
def store_group() -> None:
    """Keep bundles in S3 object storage with Object Lock (write-once).

    Credentials, region and endpoint come from the standard AWS environment
    variables and files (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_PROFILE,
    AWS_ENDPOINT_URL, ~/.aws/config); --endpoint-url names an on-premises
    server (MinIO, Ceph RGW, SeaweedFS).

    \b
    Examples:
      custody store push ./ICC-2026-014_JS-1_... s3://evidence/icc \\
          --retain-years 30
      custody store list s3://evidence/icc
      custody verify s3://evidence/icc/ICC-2026-014_JS-1_...
      custody store pull s3://evidence/icc/ICC-2026-014_JS-1_... ./restored
    """


@store_group.command("push")
@click.argument("bundle", type=click.Path(path_type=Path))
@click.argument("destination", metavar="s3://BUCKET/PREFIX")
@click.option(
    "--retain-until",
    "retain_until",
    metavar="DATE",
    help="Lock every object in compliance mode until DATE (YYYY-MM-DD or ISO 8601, UTC).",
)
@click.option(
    "--retain-years",
    type=click.IntRange(min=1),
    metavar="N",
    help="Lock every object in compliance mode for N years (to the end of that day, UTC).",
)
@click.option(
    "--no-lock",
    is_flag=True,
    help="Accept a bucket without Object Lock (objects can then be deleted or written over).",
)
@click.option(
    "--one-object-per-file",
    "one_object_per_file",
    is_flag=True,
    help="Store every file as its own object instead of packing small files into "
    "tar segments (docs/storage.md).",
)
@endpoint_url_option
@trust_options("trust")
@click.option("--key", "key", help="Your key, to sign the ledger entry (default: your only key).")
@passphrase_file_option
@json_option
@click.option("-q", "--quiet", is_flag=True, help="Print only the location.")
@pass_app
def push_command(
    app: App,
    bundle: Path,
    destination: str,
    retain_until: str | None,
    retain_years: int | None,
    no_lock: bool,
    one_object_per_file: bool,
    endpoint_url: str | None,
    trust: TrustOptions,
    key: str | None,
    passphrase_file: Path | None,
    json_output: bool,
    quiet: bool,
) -> None:
    """Upload the bundle folder BUNDLE to s3://BUCKET/PREFIX/<bundle name>/.

    The bundle must verify first (against your trust store and --trust);
    nothing is sent otherwise. Files under 16 MiB are packed into tar
    segments of about 64 MiB with an index (custody-pack/), so that a million
    small files are not a million objects. Every object is locked in compliance mode
    (no one can delete it, write over it or shorten its retention until the
    date), its SHA-256 checked by the server as it arrives and against the
    bundle's manifest before it becomes visible. A bucket without Object
    Lock is refused unless --no-lock. An interrupted push is resumed by
    running it again: objects already stored are checked, not sent again.
    The push is recorded in your ledger (a 'store' entry).

    \b
    Examples:
      custody store push ./ICC-2026-014_JS-1_... s3://evidence/icc \\
          --retain-years 30
      custody store push ./B s3://evidence/icc --retain-until 2056-12-31 --json
      custody store push ./B s3://lab/tmp --no-lock \\
          --endpoint-url http://127.0.0.1:8333

    \b
    Exit codes:
      0  pushed (or already stored whole)
      1  the bundle does not verify; nothing was sent
      2  usage error, bad credentials, no such bucket, a bucket without Object
         Lock
      3  the storage endpoint cannot be reached or failed
    """
    render = app.configure(json_output=json_output, quiet=quiet)
    policy = load_trust_policy(home=app.home, options=trust)
    signer = app.signer(key=key, passphrase_file=passphrase_file)
    from custody.ops.store_push import push_bundle

    with render.progress("Pushing") as on_progress:
        result = push_bundle(
            home=app.home,
            bundle=bundle,
            destination=destination,
            policy=policy,
            signer=signer,
            retain_until=_parse_date(retain_until) if retain_until is not None else None,
            retain_years=retain_years,
            no_lock=no_lock,
            endpoint_url=endpoint_url,
            on_progress=on_progress,
            packed=not one_object_per_file,
        )
    render.store_push(result)


@store_group.command("list")
@click.argument("where", metavar="s3://BUCKET/PREFIX")
@endpoint_url_option
@json_option
@pass_app
def list_command(app: App, where: str, endpoint_url: str | None, json_output: bool) -> None:
    """Show the bundles stored under s3://BUCKET/PREFIX: case, exhibit,
    bundle id, and the date their Object Lock retention runs to.

    \b
    Examples:
      custody store list s3://evidence/icc
      custody store list s3://evidence --json
    """
    render = app.configure(json_output=json_output)
    from custody.io.s3.listing import list_bundles

    render.store_list(list_bundles(where=where, endpoint_url=endpoint_url))


@store_group.command("pull")
@click.argument("source", metavar="s3://BUCKET/PREFIX/BUNDLE")
@click.argument("out", metavar="DIR", type=click.Path(path_type=Path))
@endpoint_url_option
@json_option
@pass_app
def pull_command(
    app: App, source: str, out: Path, endpoint_url: str | None, json_output: bool
) -> None:
    """Restore a stored bundle as a folder, byte-exact: DIR itself when DIR
    does not exist, DIR/<bundle name> when DIR is a folder. Nothing is ever
    written over; a crash leaves no partial folder. Each file is checked
    against the bundle's manifests as it is written.

    \b
    Examples:
      custody store pull s3://evidence/icc/ICC-2026-014_JS-1_... ./restored
      custody verify ./restored

    \b
    Exit codes:
      0  restored, every file matches its manifest
      1  restored, but files do not match the manifests (listed)
      2  usage error, DIR exists, bad credentials, nothing stored there
      3  the storage endpoint cannot be reached, or the disk failed
    """
    render = app.configure(json_output=json_output)
    from custody.ops.store_pull import pull_bundle

    with render.progress("Pulling") as on_progress:
        result = pull_bundle(
            source=source, out=out, endpoint_url=endpoint_url, on_progress=on_progress
        )
    render.store_pull(result)
    if not result.intact:
        click.get_current_context().exit(EXIT_NOT_VERIFIED)
