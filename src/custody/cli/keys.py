"""custody keygen, custody keys list|export|trust."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from custody.base.errors import InputError
from custody.base.keys import (
    PublicKeyInfo,
    find_key,
    format_fingerprint,
    list_keys,
    public_key_file_bytes,
    read_public_key_file,
    trusted_keys,
)
from custody.cli._app import App, pass_app
from custody.cli._options import emit_public_key_file, json_option, passphrase_file_option
from custody.ops.actions import add_trusted_key, create_key


@click.command("keygen")
@click.option(
    "--name",
    required=True,
    help="Whose key: a name and role, e.g. 'PC Jane Smith, War Crimes Team'.",
)
@passphrase_file_option
@click.option(
    "--no-passphrase", is_flag=True, help="Store the private key unencrypted (not advised)."
)
@json_option
@pass_app
def keygen_command(
    app: App, name: str, passphrase_file: Path | None, no_passphrase: bool, json_output: bool
) -> None:
    """Create an Ed25519 signing key and trust it locally.

    The private key is stored encrypted (PKCS#8 PEM, mode 0600) under
    $CUSTODY_HOME/keys. The passphrase comes from --passphrase-file,
    $CUSTODY_PASSPHRASE or a prompt on a terminal. An existing key is never
    overwritten. Read the fingerprint aloud to whoever will verify your work.

    \b
    Examples:
      custody keygen --name "PC Jane Smith, War Crimes Team"
      CUSTODY_PASSPHRASE=... custody keygen --name "DC Ali Khan" --json
    """
    render = app.configure(json_output=json_output)
    passphrase = (
        None
        if no_passphrase
        else app.passphrase(
            passphrase_file=passphrase_file, confirm=True, purpose="for the new key"
        )
    )
    pair = create_key(home=app.home, name=name, passphrase=passphrase)
    if json_output:
        render.json(
            {
                "id": pair.key_id,
                "name": pair.name,
                "fingerprint": pair.fingerprint,
                "encrypted": pair.encrypted,
                "private_key": str(pair.private_key_path),
                "public_key": str(pair.public_key_path),
            }
        )
        return
    render.info(f"Created key '{pair.key_id}' for {pair.name}")
    render.info(f"Fingerprint: {format_fingerprint(pair.fingerprint)}")
    render.info(f"Private key: {pair.private_key_path}")
    render.info(f"Public key:  {pair.public_key_path} (give this to whoever verifies your bundles)")
    if not pair.encrypted:
        render.warning("the private key is stored WITHOUT a passphrase")


@click.group("keys")
def keys_group() -> None:
    """List, export and trust keys.

    \b
    Examples:
      custody keys list
      custody keys export jane-smith -o jane.pub
      custody keys trust jane.pub
    """


@keys_group.command("list")
@json_option
@pass_app
def keys_list(app: App, json_output: bool) -> None:
    """List your own keys and the keys you trust, with what your trusted
    registers say about each (valid until, revoked since), and the registers.

    \b
    Examples:
      custody keys list
      custody keys list --json | jq '.keys[].fingerprint'
    """
    from datetime import UTC, datetime

    from custody.register.rule import listings
    from custody.register.store import trusted_registers

    render = app.configure(json_output=json_output)
    now = datetime.now(UTC)
    registers = trusted_registers(home=app.home, now=now)
    render.key_pairs(
        list_keys(home=app.home),
        trusted_keys(home=app.home),
        registers=[{**r.ref(), "keys": len(r.keys)} for r in registers],
        listed=lambda fp: listings(registers, fp, now=now),
    )


@keys_group.command("export")
@click.argument("key")
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write to this file (never overwritten) instead of stdout.",
)
@pass_app
def keys_export(app: App, key: str, output: Path | None) -> None:
    """Print or write the public key KEY (an id, name or fingerprint prefix).

    The file is PEM that openssl reads, preceded by the holder's name and the
    fingerprint. Give it to court staff so they can trust and verify your bundles.

    \b
    Examples:
      custody keys export pc-jane-smith-war-crimes-team -o jane.pub
      custody keys export 693dd91a  # by fingerprint prefix, to stdout
    """
    pair = find_key(home=app.home, selector=key)
    info = read_public_key_file(pair.public_key_path)
    data = public_key_file_bytes(info.name, info.public_key)
    if emit_public_key_file(data, output):
        app.render.note(f"Wrote {output} ({format_fingerprint(info.fingerprint)})")


@keys_group.command("trust")
@click.argument("public_key_file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--name", help="Name to record (default: the name in the file).")
@click.option("--key", "key", help="Your key that signs the ledger entry (default: your only key).")
@click.option("--no-record", is_flag=True, help="Do not record this in your ledger.")
@passphrase_file_option
@json_option
@pass_app
def keys_trust(
    app: App,
    public_key_file: Path,
    name: str | None,
    key: str | None,
    no_record: bool,
    passphrase_file: Path | None,
    json_output: bool,
) -> None:
    """Trust the public key in PUBLIC_KEY_FILE: bundles it signed will verify.

    Compare the fingerprint shown with the one its holder reads to you. When
    you have a key of your own, the event is recorded in your ledger, signed
    by it (unless --no-record).

    \b
    Examples:
      custody keys trust jane.pub
      custody keys trust jane.pub --name "PC Jane Smith" --no-record
    """
    render = app.configure(json_output=json_output)
    info = read_public_key_file(public_key_file)
    if name:
        info = PublicKeyInfo(name.strip(), info.fingerprint, info.public_key, info.path)
    recorder = None
    if not no_record and list_keys(home=app.home):
        recorder = app.signer(key=key, passphrase_file=passphrase_file)
    stored, added = add_trusted_key(home=app.home, info=info, recorder=recorder)
    if json_output:
        render.json(
            {
                "name": stored.name,
                "fingerprint": stored.fingerprint,
                "added": added,
                "recorded": bool(added and recorder),
            }
        )
        return
    verb = "Now trusting" if added else "Already trusted"
    render.info(f"{verb}: {stored.name}")
    render.info(f"Fingerprint: {format_fingerprint(stored.fingerprint)}")


@keys_group.command("trust-register")
@click.argument("register_file", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--fingerprint",
    metavar="FPR",
    help="The unit key's fingerprint, as the unit read it to you (needed without a terminal).",
)
@json_option
@pass_app
def keys_trust_register(
    app: App, register_file: Path, fingerprint: str | None, json_output: bool
) -> None:
    """Trust a unit's key register: keys it certifies verify while valid.

    The first time, compare the unit key's fingerprint shown with the one the
    unit reads to you and confirm (on a terminal), or give it with
    --fingerprint. Later versions are accepted only when signed by the unit
    key (or a rotation from it) and extending the version you trust; an older
    version or a fork is refused.

    \b
    Examples:
      custody keys trust-register register.json
      custody keys trust-register register.json --fingerprint "3f2a 9c01 ..."
    """
    from datetime import UTC, datetime

    from custody.base.keys import normalise_fingerprint
    from custody.register.store import check_against_stored, read_register_file, trust_register

    render = app.configure(json_output=json_output)
    now = datetime.now(UTC)
    register = read_register_file(register_file, now=now)
    given = None
    if fingerprint is not None:
        given = normalise_fingerprint(fingerprint)
        if given is None:
            raise InputError("--fingerprint takes the full 64-digit fingerprint")
    confirmed = False
    known = check_against_stored(home=app.home, register=register, now=now)
    if known is None and given is None:
        if not (sys.stdin.isatty() and sys.stderr.isatty()):
            raise InputError(
                "first use of this register: give the unit key's fingerprint with "
                "--fingerprint (no terminal to confirm on)",
                path=str(register_file),
            )
        app.render.note(f"Key register of {register.unit.name}, version {register.version}")
        app.render.note(f"Unit key fingerprint: {format_fingerprint(register.unit.fingerprint)}")
        if not click.confirm("Is this the fingerprint the unit gave you?", default=False, err=True):
            raise InputError("not confirmed; nothing stored", path=str(register_file))
        confirmed = True
    result = trust_register(
        home=app.home, register=register, fingerprint=given, confirmed=confirmed, now=now
    )
    render.trust_register(result)
