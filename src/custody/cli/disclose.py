"""custody disclose, and custody verify on a disclosure package."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from custody.base.errors import EXIT_NOT_VERIFIED, InputError
from custody.cli._app import App, pass_app
from custody.cli._options import (
    json_option,
    passphrase_file_option,
    tsa_timeout_option,
    tsa_url_option,
    tsa_urls_or_env,
)
from custody.cli._ordered import OrderedCommand, option_order

if TYPE_CHECKING:
    from custody.policy import TrustPolicy


def _split(value: str, sep: str, option: str) -> tuple[str, str]:
    if sep not in value:
        raise InputError(f"{option} {value!r}: expected the form given in --help")
    left, right = value.rsplit(sep, 1)
    if not left or not right:
        raise InputError(f"{option} {value!r}: expected the form given in --help")
    return left, right


@click.command("disclose", cls=OrderedCommand)
@click.argument("bundle", type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--out",
    "out",
    required=True,
    type=click.Path(path_type=Path),
    help="The package folder to write (must not exist).",
)
@click.option("--to", "to", required=True, help="Who receives it, e.g. 'Defence for the accused'.")
@click.option(
    "--withhold",
    multiple=True,
    metavar="PATH",
    help="Withhold this file (or a member of a ZIP archive, ARCHIVE.zip/MEMBER): only its "
    "leaf index and basis appear (repeatable).",
)
@click.option(
    "--basis",
    "bases",
    multiple=True,
    help="The ground for withholding or redacting, e.g. '81(4): identity of witness'. "
    "Given once, it covers every decision; given several times, each --basis is the "
    "ground for the --withhold (--redact-messages, --derived, --withhold-field) options "
    "just before it, and one given before any of them is the default.",
)
@click.option(
    "--strip-metadata",
    "strip",
    multiple=True,
    metavar="PATH",
    help="Disclose a copy of this JPEG, PNG, MP4 or MOV (or such a member of a ZIP, "
    "ARCHIVE.zip/MEMBER) without its metadata segments, proven identical in every "
    "other segment (repeatable).",
)
@click.option(
    "--redact-messages",
    "redact",
    multiple=True,
    metavar="CHAT:N-M,K",
    help="Disclose this chat, e-mail (MIME parts) or mbox (also inside a ZIP: "
    "ARCHIVE.zip/_chat.txt:2-5) with these messages (numbered from 1) replaced by a "
    "marker; every other message is proven (repeatable).",
)
@click.option(
    "--derived",
    "derived",
    multiple=True,
    metavar="PATH=FILE",
    help="Disclose FILE, a derivative you made of PATH (blurred, cropped): attested "
    "by you, not proven (repeatable).",
)
@click.option("--method", help="With --derived: what was done, e.g. 'faces blurred'.")
@click.option(
    "--withhold-field",
    "withhold_fields",
    multiple=True,
    metavar="PATH:FIELD",
    help="Withhold one metadata field of a file disclosed intact, e.g. photo.jpg:gps (repeatable).",
)
@click.option(
    "--disclose-note",
    is_flag=True,
    help="Include the officer's note (left out unless given: it is often about the "
    "witness by name).",
)
@click.option(
    "--reveal",
    multiple=True,
    metavar="PATH",
    help="A supplement: disclose only these files, intact (lifting an earlier "
    "redaction); everything else is withheld as outside the supplement.",
)
@click.option(
    "--supplement-to",
    metavar="DISCLOSURE_ID",
    help="With --reveal: the disclosure this supplements.",
)
@click.option(
    "--scope",
    "scope",
    type=click.Path(path_type=Path, file_okay=False),
    help="Disclose nothing outside this scope record (custody select): what it does not "
    "select is withheld; naming such an item is refused. The record names it.",
)
@click.option("--zip", "make_zip", is_flag=True, help="Also write PACKAGE.zip.")
@tsa_url_option
@tsa_timeout_option
@click.option("--key", "key", help="Your key (default: $CUSTODY_KEY, or your only key).")
@passphrase_file_option
@json_option
@pass_app
def disclose_command(
    app: App,
    bundle: Path,
    out: Path,
    to: str,
    withhold: tuple[str, ...],
    bases: tuple[str, ...],
    strip: tuple[str, ...],
    redact: tuple[str, ...],
    derived: tuple[str, ...],
    method: str | None,
    withhold_fields: tuple[str, ...],
    disclose_note: bool,
    reveal: tuple[str, ...],
    supplement_to: str | None,
    scope: Path | None,
    make_zip: bool,
    tsa_urls: tuple[str, ...],
    tsa_timeout: float | None,
    key: str | None,
    passphrase_file: Path | None,
    json_output: bool,
) -> None:
    """Write a disclosure package of BUNDLE for the defence or a Chamber: a
    BagIt bag holding the original signed statement, the items disclosed with
    their salts and inclusion proofs, and a disclosure record signed by you and
    recorded in your ledger. Every file not named is disclosed intact; the
    officer's note is left out unless --disclose-note. Naming a member of a ZIP
    archive (ARCHIVE.zip/MEMBER) discloses that archive as its members: each
    proven on its own, the archive's own bytes left out. With --tsa URL (or
    $CUSTODY_TSA) each TSA stamps the record's signature. Nothing withheld (name,
    size, hash, metadata, salt) is written into the package. A bundle made
    before commitments existed can only be disclosed whole.

    \b
    Examples:
      custody disclose ./ICC-2026-014_JS-1_... -o defence-1 --to \\
          "Defence, case 14"
      custody disclose B -o d1 --to "Defence" --withhold W1/statement.pdf \\
          --basis "81(4)"
      custody disclose B -o d1 --to "Defence" --withhold-field IMG_0001.jpg:gps \\
          --basis "81(4)"
      custody disclose B -o d1 --to D --withhold a.pdf --basis "81(4)" \\
          --withhold b.pdf --basis 72
      custody disclose B -o d1 --to "Defence" --withhold "chat.zip/IMG-001.jpg" \\
          --basis 81
      custody disclose B -o d2 --to "Defence" --strip-metadata IMG_0001.jpg --zip
      custody disclose B -o d3 --to "Defence" --redact-messages \\
          "c/_chat.txt:12-15,40" --basis 81
      custody disclose B -o d4 --to "Defence" --derived a.jpg=b.jpg \\
          --method blurring --basis 81
      custody disclose B -o s1 --to "Trial Chamber V" --reveal W1/statement.pdf
      custody disclose W1 -o d5 --to "Defence" --scope W1.scope-20260303T101500Z
      custody verify d5 --scope W1.scope-20260303T101500Z
      custody verify defence-1

    \b
    Exit codes: 0 written; 2 bad options or a bundle that cannot be disclosed
    as asked; 3 the machine failed.
    """
    from custody.disclosure.request import Derived, DisclosureRequest, bundle_path, parse_ranges
    from custody.ops.disclosure.disclose import disclose_with_home

    render = app.configure(json_output=json_output)
    redactions: dict[str, tuple[int, ...]] = {}
    for value in redact:
        chat, ranges = _split(value, ":", "--redact-messages")
        try:
            redactions[bundle_path(chat)] = parse_ranges(ranges)
        except ValueError as e:
            raise InputError(f"--redact-messages {value!r}: {e}") from e
    derivations: dict[str, Derived] = {}
    for value in derived:
        path, file = _split(value, "=", "--derived")
        if not method:
            raise InputError("--derived needs --method: what was done to the copy")
        derivations[bundle_path(path)] = Derived(Path(file), method)
    fields: dict[str, tuple[str, ...]] = {}
    for value in withhold_fields:
        path, name = _split(value, ":", "--withhold-field")
        fields[bundle_path(path)] = (*fields.get(bundle_path(path), ()), name)
    basis, by_key = _bases(redact, derived, withhold, withhold_fields, bases)
    request = DisclosureRequest(
        to=to,
        basis=basis,
        bases=by_key,
        withhold=tuple(bundle_path(p) for p in withhold),
        strip=tuple(bundle_path(p) for p in strip),
        redact=redactions,
        derived=derivations,
        withhold_fields=fields,
        disclose_note=disclose_note,
        reveal=tuple(bundle_path(p) for p in reveal),
        supplement_to=supplement_to,
    )
    signer = app.signer(key=key, passphrase_file=passphrase_file)
    result = disclose_with_home(
        home=app.home,
        bundle=bundle,
        out=out,
        request=request,
        signer=signer,
        make_zip=make_zip,
        tsa_urls=tsa_urls_or_env(tsa_urls),
        tsa_timeout=tsa_timeout,
        scope=scope,
    )
    render.disclosure_result(result)


def _bases(
    redact: tuple[str, ...],
    derived: tuple[str, ...],
    withhold: tuple[str, ...],
    withhold_fields: tuple[str, ...],
    bases: tuple[str, ...],
) -> tuple[str | None, dict[str, str]]:
    """Each decision paired with the --basis given after it (disclosure/request.py)."""
    from custody.disclosure.request import BASIS, assign_bases, bundle_path

    values: dict[str, list[str]] = {
        "withhold": [f"withhold:{bundle_path(p)}" for p in withhold],
        "redact": [f"redact:{bundle_path(v.rsplit(':', 1)[0])}" for v in redact],
        "derived": [f"derived:{bundle_path(v.rsplit('=', 1)[0])}" for v in derived],
        "withhold_fields": [
            "field:{}:{}".format(bundle_path(v.rsplit(":", 1)[0]), v.rsplit(":", 1)[1])
            for v in withhold_fields
        ],
    }
    events: list[tuple[str, str]] = []
    at = dict.fromkeys(values, 0)
    used_basis = 0
    for name in option_order(click.get_current_context()):
        if name == "bases":
            events.append((BASIS, bases[used_basis]))
            used_basis += 1
        elif name in values and at[name] < len(values[name]):
            events.append((values[name][at[name]], ""))
            at[name] += 1
    try:
        return assign_bases(events)
    except ValueError as e:
        raise InputError(f"--basis: {e}") from e


def verify_package_command(
    app: App,
    package: Path,
    policy: TrustPolicy,
    report_path: Path | None,
    scope: Path | None = None,
) -> None:
    """`custody verify PACKAGE [--scope RECORD]`, for a disclosure package
    (called by verify)."""
    from custody.base.fsutil import environment_error, replace_file
    from custody.ops.disclosure.verify import verify_package

    with app.render.progress("Verifying") as on_progress:
        report = verify_package(package=package, policy=policy, on_progress=on_progress)
    if report_path is not None:
        from custody.render.disclosure_html import render_package_report

        try:
            replace_file(report_path, render_package_report(report.to_json()).encode("utf-8"))
        except OSError as e:
            raise environment_error(e, report_path) from e
        app.render.note(f"Report written to {report_path}")
    if scope is not None:  # the scope record, checked without the bundle
        from custody.ops.scope_verify import verify_package_scope

        checked = verify_package_scope(package=package, record=scope, policy=policy)
        if app.render.json_output:
            app.render.json({**report.to_json(), "scope": checked.to_json()})
        else:
            app.render.package_report(report)
            app.render.scope_report(checked)
        if not report.verified or not checked.ok:
            click.get_current_context().exit(EXIT_NOT_VERIFIED)
        return
    app.render.package_report(report)
    if not report.verified:
        click.get_current_context().exit(EXIT_NOT_VERIFIED)
