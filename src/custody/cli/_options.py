"""Options several commands share, and what they turn into."""

from __future__ import annotations

from pathlib import Path

import click

from ..keys import PublicKeyInfo, key_or_fingerprint
from ..policy import TrustPolicy, load_trust_policy

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


def trust_policy(
    home: Path, *, trust: tuple[str, ...] = (), use_trust_store: bool = True
) -> TrustPolicy:
    """The one place a command's trust options become the verifier's policy."""
    keys, fingerprints = resolve_trust(trust)
    return load_trust_policy(
        home=home,
        extra_keys=keys,
        extra_fingerprints=fingerprints,
        use_trust_store=use_trust_store,
    )
