"""Options several commands share, and what they turn into."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from custody.base.errors import InputError
from custody.base.keys import PublicKeyInfo, key_or_fingerprint, read_public_key_file
from custody.policy import TrustPolicy, load_trust_policy

json_option = click.option("--json", "json_output", is_flag=True, help="Print one JSON object.")

passphrase_file_option = click.option(
    "--passphrase-file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Read the key's passphrase from the first line of this file.",
)

endpoint_url_option = click.option(
    "--endpoint-url",
    "endpoint_url",
    metavar="URL",
    help="S3 endpoint of an on-premises server (default: from the AWS configuration).",
)

trust_option = click.option(
    "--trust",
    "trust",
    multiple=True,
    metavar="KEY_OR_FINGERPRINT",
    help="Also trust this public key file or full fingerprint (repeatable).",
)


tsa_root_option = click.option(
    "--tsa-root",
    "tsa_roots",
    multiple=True,
    type=click.Path(path_type=Path, dir_okay=False),
    metavar="FILE",
    help="Also trust this TSA root certificate (PEM or DER) for timestamps (repeatable).",
)

require_timestamp_option = click.option(
    "--require-timestamp",
    is_flag=True,
    help="Not verified unless a timestamp from a TSA you trust proves the signing time.",
)

require_closed_chain_option = click.option(
    "--require-closed-chain",
    is_flag=True,
    help="Not verified while the last hand-over awaits its receipt (an open hand-over "
    "otherwise verifies, shown as open).",
)


tsa_url_option = click.option(
    "--tsa",
    "tsa_urls",
    multiple=True,
    metavar="URL",
    help="Ask this RFC 3161 Time-Stamping Authority for a timestamp (repeatable; "
    "default: the space-separated URLs in $CUSTODY_TSA).",
)

tsa_timeout_option = click.option(
    "--tsa-timeout",
    type=click.FloatRange(min=0.1, max=600),
    metavar="SECONDS",
    help="How long to wait for each TSA (default: $CUSTODY_TSA_TIMEOUT, or 10).",
)


def tsa_urls_or_env(urls: tuple[str, ...]) -> tuple[str, ...]:
    """--tsa URLs, or else those in $CUSTODY_TSA."""
    from custody.io.tsa_client import urls_from_env

    return urls or urls_from_env()


witness_key_option = click.option(
    "--witness-key",
    "witness_keys",
    multiple=True,
    type=click.Path(path_type=Path, dir_okay=False),
    metavar="FILE",
    help="Also accept cosignatures by this witness public key (repeatable).",
)

quorum_option = click.option(
    "--quorum",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Require valid cosignatures from at least N distinct chosen witnesses.",
)


def witnesses_from_env() -> tuple[str, ...]:
    """The witness URLs in $CUSTODY_WITNESS (space-separated)."""
    import os

    from custody.ops.witness_submit import witness_urls

    return witness_urls(os.environ.get("CUSTODY_WITNESS"))


def witness_submit_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """--witness URL (repeatable) and --timeout, for the commands that submit a
    checkpoint to witnesses."""
    command = click.option(
        "--timeout",
        type=click.FloatRange(min=0.1),
        default=10.0,
        show_default=True,
        help="Seconds to wait for each witness.",
    )(command)
    return click.option(
        "--witness",
        "witnesses",
        multiple=True,
        metavar="URL",
        help="A witness's URL (repeatable; default: $CUSTODY_WITNESS, space-separated).",
    )(command)


def witnesses_given(witnesses: tuple[str, ...]) -> tuple[str, ...]:
    """The --witness URLs, else $CUSTODY_WITNESS's. Raises InputError when neither."""
    urls = witnesses or witnesses_from_env()
    if not urls:
        raise InputError("no witness: give --witness URL or set CUSTODY_WITNESS")
    return urls


team_key_option = click.option(
    "--team-key",
    "team_keys",
    multiple=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="Also trust this team log's public key for team proofs (repeatable).",
)


def resolve_trust(values: tuple[str, ...]) -> tuple[list[PublicKeyInfo], set[str]]:
    """The keys and fingerprints given with --trust."""
    keys: list[PublicKeyInfo] = []
    fingerprints: set[str] = set()
    for value in values:
        given = key_or_fingerprint(value, option="--trust")
        if isinstance(given, PublicKeyInfo):
            keys.append(given)
        else:
            fingerprints.add(given)
    return keys, fingerprints


register_option = click.option(
    "--register",
    "registers",
    multiple=True,
    type=click.Path(path_type=Path, dir_okay=False),
    metavar="REGISTER.json",
    help="Also judge keys by this unit key register, for this run only (repeatable).",
)


def trust_policy(
    home: Path,
    *,
    trust: tuple[str, ...] = (),
    use_trust_store: bool = True,
    registers: tuple[Path, ...] = (),
    tsa_roots: tuple[Path, ...] = (),
    require_timestamp: bool = False,
    require_closed_chain: bool = False,
    witness_keys: tuple[Path, ...] = (),
    quorum: int = 0,
    team_keys: tuple[Path, ...] = (),
) -> TrustPolicy:
    """The one place a command's trust options become the verifier's policy."""
    from datetime import UTC, datetime

    from custody.register.store import read_register_file
    from custody.witness.trust import read_witness_key

    keys, fingerprints = resolve_trust(trust)
    now = datetime.now(UTC)
    return load_trust_policy(
        home=home,
        extra_keys=keys,
        extra_fingerprints=fingerprints,
        use_trust_store=use_trust_store,
        extra_registers=[read_register_file(p, now=now) for p in registers],
        now=now,
        tsa_root_files=tsa_roots,
        require_timestamp=require_timestamp,
        require_closed_chain=require_closed_chain,
        extra_witness_keys=[read_witness_key(p) for p in witness_keys],
        quorum=quorum,
        extra_team_keys=[read_public_key_file(p) for p in team_keys],
    )


def emit_public_key_file(data: bytes, output: Path | None) -> bool:
    """A public key file to stdout, or to `output`, which is never overwritten.
    Returns True when a file was written. Raises InputError, EnvironmentFailure."""
    import sys

    from custody.base.errors import InputError
    from custody.base.fsutil import environment_error, write_new_file

    if output is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return False
    try:
        write_new_file(output, data)
    except FileExistsError as e:
        raise InputError("already exists; not overwritten", path=str(output)) from e
    except OSError as e:
        raise environment_error(e, output) from e
    return True
