"""custody authority init|add|revoke|rotate|export: the unit's key register."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import click

from custody.base.errors import InputError
from custody.base.keys import read_public_key_file
from custody.cli._app import App, pass_app
from custody.cli._options import json_option, passphrase_file_option
from custody.register.format import REASONS
from custody.register.times import parse_user_time


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _time_option(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    parsed = parse_user_time(value)
    if parsed is None:
        raise InputError(
            f"{option} {value!r} is not a time (use 2026-03-01 or 2026-03-01T09:30:00Z)"
        )
    return parsed


def _unit_passphrase(app: App, passphrase_file: Path | None, *, new: bool = False) -> bytes:
    purpose = "for the new unit key" if new else "for the unit key"
    return app.passphrase(passphrase_file=passphrase_file, confirm=new, purpose=purpose)


@click.group("authority")
def authority_group() -> None:
    """The unit's key authority: certify, revoke and publish officer keys.

    An evidence manager or supervisor keeps the unit key. It signs the unit's
    key register: every officer key with its validity and any revocation.
    Court staff trust the register once ('custody keys trust-register') instead
    of every officer key one by one. Every action is an entry in your ledger.

    \b
    Examples:
      custody authority init --name "Met War Crimes Team"
      custody authority add jane.pub --valid-until 2029-12-31
      custody authority revoke 3f2a9c01 --reason compromised --since 2026-03-01
      custody authority rotate
      custody authority export -o register.json
    """


@authority_group.command("init")
@click.option("--name", required=True, help="The unit, e.g. 'Met War Crimes Team'.")
@passphrase_file_option
@json_option
@pass_app
def authority_init(app: App, name: str, passphrase_file: Path | None, json_output: bool) -> None:
    """Create the unit key (Ed25519, encrypted like officer keys) and its register.

    The key is stored under $CUSTODY_HOME/authority, mode 0600, encrypted with
    the passphrase from --passphrase-file, $CUSTODY_PASSPHRASE or a prompt.
    Read its fingerprint to whoever will trust your register.

    \b
    Examples:
      custody authority init --name "Met War Crimes Team"
    """
    from custody.ops.authority import init_authority

    render = app.configure(json_output=json_output)
    passphrase = _unit_passphrase(app, passphrase_file, new=True)
    render.authority(init_authority(home=app.home, name=name, passphrase=passphrase, now=_now()))


@authority_group.command("add")
@click.argument("officer_key", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--name", help="The officer's name to certify (default: the name in the file).")
@click.option("--valid-from", metavar="TIME", help="Start of validity (default: now).")
@click.option(
    "--valid-until", metavar="TIME", help="End of validity (default: three years after the start)."
)
@passphrase_file_option
@json_option
@pass_app
def authority_add(
    app: App,
    officer_key: Path,
    name: str | None,
    valid_from: str | None,
    valid_until: str | None,
    passphrase_file: Path | None,
    json_output: bool,
) -> None:
    """Certify the officer public key in OFFICER_KEY (an Ed25519 public key file).

    \b
    Examples:
      custody authority add jane.pub
      custody authority add ali.pub --valid-from 2026-01-01 \\
          --valid-until 2028-12-31
    """
    from custody.base.keys import PublicKeyInfo
    from custody.ops.authority import certify_key

    render = app.configure(json_output=json_output)
    info = read_public_key_file(officer_key)
    if name:
        info = PublicKeyInfo(name.strip(), info.fingerprint, info.public_key, info.path)
    start = _time_option(valid_from, "--valid-from")
    end = _time_option(valid_until, "--valid-until")
    passphrase = _unit_passphrase(app, passphrase_file)
    result = certify_key(
        home=app.home,
        info=info,
        valid_from=start,
        valid_until=end,
        passphrase=passphrase,
        now=_now(),
    )
    render.authority(result)


@authority_group.command("revoke")
@click.argument("fingerprint")
@click.option("--reason", required=True, type=click.Choice(REASONS), help="Why the key is revoked.")
@click.option(
    "--since",
    metavar="TIME",
    help="For compromised: when the key may first have been in other hands (default: now).",
)
@passphrase_file_option
@json_option
@pass_app
def authority_revoke(
    app: App,
    fingerprint: str,
    reason: str,
    since: str | None,
    passphrase_file: Path | None,
    json_output: bool,
) -> None:
    """Revoke the officer key FINGERPRINT (64 digits, or a unique prefix of 8 or more).

    A compromised key is refused for anything not proven signed before --since;
    a superseded or retired key for anything not proven signed before now.

    \b
    Examples:
      custody authority revoke 3f2a9c01 --reason retired
      custody authority revoke 3f2a9c01 --reason compromised \\
          --since 2026-03-01T08:00Z
    """
    from custody.ops.authority import revoke_key

    render = app.configure(json_output=json_output)
    when = _time_option(since, "--since")
    if when is not None and reason != "compromised":
        raise InputError(f"--since applies to --reason compromised only, not {reason}")
    if when is not None and when > _now():
        raise InputError(f"--since {since} is in the future")
    passphrase = _unit_passphrase(app, passphrase_file)
    result = revoke_key(
        home=app.home,
        fingerprint=fingerprint,
        reason=reason,
        since=when,
        passphrase=passphrase,
        now=_now(),
    )
    render.authority(result)


@authority_group.command("rotate")
@passphrase_file_option
@click.option(
    "--new-passphrase-file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="The new unit key's passphrase (default: as for the current key).",
)
@json_option
@pass_app
def authority_rotate(
    app: App, passphrase_file: Path | None, new_passphrase_file: Path | None, json_output: bool
) -> None:
    """Replace the unit key: a new key, announced in the register and signed by
    both the old and the new unit key. Verifiers who trust the register follow.

    \b
    Examples:
      custody authority rotate --new-passphrase-file new-passphrase.txt
    """
    from custody.ops.authority import rotate_unit_key

    render = app.configure(json_output=json_output)
    old = _unit_passphrase(app, passphrase_file)
    new = _unit_passphrase(app, new_passphrase_file or passphrase_file, new=True)
    render.authority(rotate_unit_key(home=app.home, passphrase=old, new_passphrase=new, now=_now()))


@authority_group.command("export")
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write to this file (replaced atomically) instead of stdout.",
)
@passphrase_file_option
@json_option
@pass_app
def authority_export(
    app: App, output: Path | None, passphrase_file: Path | None, json_output: bool
) -> None:
    """Publish the register: every version, each signed by the unit key.

    Give the file to court staff: 'custody keys trust-register register.json'.
    The export is recorded in your ledger (so the unit key is unlocked).

    \b
    Examples:
      custody authority export -o register.json
    """
    from custody.ops.authority import export_register

    if output is None and json_output:
        raise InputError("--json needs -o FILE (the register itself goes to stdout otherwise)")
    render = app.configure(json_output=json_output)
    passphrase = _unit_passphrase(app, passphrase_file)
    result, data = export_register(home=app.home, output=output, passphrase=passphrase, now=_now())
    if output is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        app.render.note(f"{result.register.label()}, {result.details['keys']} keys")
        return
    render.authority(result)
