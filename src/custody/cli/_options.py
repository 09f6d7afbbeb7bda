"""Options several commands share, and what they turn into."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, cast

import click

from custody.base.errors import InputError
from custody.ops.trust import TrustOptions

F = TypeVar("F", bound=Callable[..., Any])

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


register_option = click.option(
    "--register",
    "registers",
    multiple=True,
    type=click.Path(path_type=Path, dir_okay=False),
    metavar="REGISTER.json",
    help="Also judge keys by this unit key register, for this run only (repeatable).",
)


no_trust_store_option = click.option(
    "--no-trust-store",
    is_flag=True,
    help="Trust only the keys given with --trust (and TSA roots with --tsa-root, witnesses "
    "with --witness-key), not $CUSTODY_HOME's trust stores.",
)

# The trust options by name, and the keyword each gives the command.
_TRUST_OPTIONS: dict[str, Callable[[Any], Any]] = {
    "trust": trust_option,
    "register": register_option,
    "team-key": team_key_option,
    "no-trust-store": no_trust_store_option,
    "tsa-root": tsa_root_option,
    "require-timestamp": require_timestamp_option,
    "require-closed-chain": require_closed_chain_option,
    "witness-key": witness_key_option,
    "quorum": quorum_option,
}
_TRUST_KEYWORDS = frozenset(
    {
        "trust",
        "registers",
        "team_keys",
        "no_trust_store",
        "tsa_roots",
        "require_timestamp",
        "require_closed_chain",
        "witness_keys",
        "quorum",
    }
)


def trust_options(*names: str) -> Callable[[F], F]:
    """Add the named trust options (--trust, --register, --team-key,
    --no-trust-store, --tsa-root, --require-timestamp, --require-closed-chain,
    --witness-key, --quorum) to a command, which receives them as one
    TrustOptions value, its `trust` argument: ops.trust.load_trust_policy turns
    it into the policy."""
    unknown = set(names) - set(_TRUST_OPTIONS)
    if unknown:
        raise ValueError(f"no such trust option: {sorted(unknown)}")

    def decorate(command: F) -> F:
        @functools.wraps(command)
        def with_options(*args: Any, **kwargs: Any) -> Any:
            given = {k: kwargs.pop(k) for k in list(kwargs) if k in _TRUST_KEYWORDS}
            kwargs["trust"] = TrustOptions(
                trust=tuple(given.get("trust", ())),
                registers=tuple(given.get("registers", ())),
                team_keys=tuple(given.get("team_keys", ())),
                use_trust_store=not given.get("no_trust_store", False),
                tsa_roots=tuple(given.get("tsa_roots", ())),
                require_timestamp=bool(given.get("require_timestamp", False)),
                require_closed_chain=bool(given.get("require_closed_chain", False)),
                witness_keys=tuple(given.get("witness_keys", ())),
                quorum=int(given.get("quorum", 0)),
            )
            return command(*args, **kwargs)

        decorated: Any = with_options
        for name in reversed(names):
            decorated = _TRUST_OPTIONS[name](decorated)
        return cast(F, decorated)

    return decorate


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
