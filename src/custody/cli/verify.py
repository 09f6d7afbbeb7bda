"""custody verify."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from custody.base.errors import EXIT_NOT_VERIFIED, CustodyError, InputError
from custody.base.fsutil import environment_error, replace_file
from custody.cli._app import App, pass_app
from custody.cli._options import (
    endpoint_url_option,
    json_option,
    passphrase_file_option,
    trust_options,
)
from custody.io.s3.location import is_s3_url
from custody.ops.actions import record_verification, verify_with_home
from custody.ops.trust import TrustOptions, load_trust_policy
from custody.ops.verify_many import BundleRef, parse_bundle_list

if TYPE_CHECKING:
    from custody.base.keys import Signer
    from custody.policy import TrustPolicy


@click.command("verify")
@click.argument("bundles", metavar="BUNDLE...", nargs=-1, type=click.Path())
@click.option(
    "--from",
    "from_file",
    metavar="LIST",
    type=click.Path(path_type=Path, dir_okay=False),
    help="A list of bundles: one path or s3:// URL per line ('#' comments).",
)
@trust_options(
    "trust",
    "register",
    "team-key",
    "no-trust-store",
    "tsa-root",
    "require-timestamp",
    "require-closed-chain",
    "witness-key",
    "quorum",
)
@click.option(
    "--report",
    "report_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Also write a self-contained HTML report (for printing, or as PDF).",
)
@click.option(
    "--record", is_flag=True, help="Record this verification in your ledger, signed with your key."
)
@click.option("--key", "key", help="With --record: your key (default: your only key).")
@click.option(
    "--workers",
    metavar="N",
    type=click.IntRange(min=1),
    help="Several bundles: how many to verify at once (default: one per core).",
)
@click.option(
    "--scope",
    "scope_record",
    type=click.Path(path_type=Path, file_okay=False),
    help="Also check this scope record (custody select) against the bundle.",
)
@click.option(
    "--used",
    "used",
    type=click.Path(path_type=Path),
    help="With --scope: what a package or analysis used (a package, a custody similar "
    "--json file, or items one a line); any outside the scope is listed, exit 1.",
)
@passphrase_file_option
@endpoint_url_option
@json_option
@click.option("-q", "--quiet", is_flag=True, help="Print only the verdict and problems.")
@pass_app
def verify_command(
    app: App,
    bundles: tuple[str, ...],
    from_file: Path | None,
    trust: TrustOptions,
    report_path: Path | None,
    record: bool,
    key: str | None,
    workers: int | None,
    scope_record: Path | None,
    used: Path | None,
    passphrase_file: Path | None,
    endpoint_url: str | None,
    json_output: bool,
    quiet: bool,
) -> None:
    """Prove that BUNDLE is intact, complete and signed by a key you trust.

    BUNDLE is a bundle folder, or a .zip, .tar or .tar.gz of one (read in
    place, nothing extracted), or s3://bucket/prefix/<bundle> in object
    storage (streamed, never written to disk; the report adds each object's
    retention and legal hold). Every file is checked and every problem is
    listed, one line each. A valid signature by a key you do not trust is
    NOT verified. The bundle's ledger proof is checked offline, and against
    your own ledger when it is the same ledger; cosignatures on its
    checkpoint by your witnesses are checked, and --quorum N requires N of
    them. The chain of custody
    (hand-overs and receipts) is shown and every signature in it checked.
    A copy whose last hand-over awaits its receipt verifies, marked
    "hand-over open" (the sender closes it with `custody transfer --close`);
    --require-closed-chain makes it NOT VERIFIED.
    A key listed in a trusted key register (keys trust-register, --register)
    is accepted only if the register says it was valid when it signed.
    Every RFC 3161 timestamp is checked offline against the TSA roots you
    chose (custody tsa trust, --tsa-root): the report says "signed no later
    than" the earliest trusted time, or "signing time not proven".

    Several BUNDLEs, or --from LIST (one path or s3:// URL per line; blank
    lines and '#' comments skipped; relative paths relative to LIST; a
    repeated line refused), are verified in one process with the same trust
    policy, spread over the cores. One line per bundle, in the order given:
    VERIFIED, NOT VERIFIED with its first problem, or UNUSABLE with why; then
    a summary (-q: only the bundles that did not verify). With --json, one
    JSON line per bundle (as for one bundle, or an error), then a summary
    line. --record records each verification; --report takes one bundle.

    A disclosure package (custody disclose) is verified as one, alone or among
    several targets: the original signature, every disclosed byte against the
    commitments it signed, the disclosure record's signature and ledger proof,
    and that the items add up (docs/adr/0017-disclosure-packages.md). With
    several targets each JSON line says which it was ("kind": "bundle" or
    "disclosure"); --record records bundles only.

    \b
    Examples:
      custody verify ./ICC-2026-014_JS-1_20261125T120000Z
      custody verify bundle.zip --trust jane.pub
      custody verify bundle.tar.gz --trust "3f2a 9c01 ..." --json
      custody verify ./ICC-2026-014_JS-1_... --report report.html
      custody verify bundle.zip --register register.json --json
      custody verify ./ICC-2026-014_JS-1_... --tsa-root tsa-root.pem \\
          --require-timestamp
      custody verify ./ICC-2026-014_JS-1_... --witness-key registry.pub --quorum 1
      custody verify ./ICC-2026-014_JS-1_... --require-closed-chain
      custody verify s3://evidence/icc/ICC-2026-014_JS-1_... --json
      custody verify bundle.zip --trust jane.pub --team-key met-team.pub
      custody verify /evidence/ICC-2026-014_* --json > tonight.jsonl
      custody verify --from holdings.txt --record -q
      # a disclosure package (custody disclose)
      custody verify defence-1.zip --trust jane.pub
      custody verify ./ICC-2026-014_W1 --scope ./W1-scope --used items.txt
      custody verify ./ICC-2026-014_W1 --scope ./W1-scope --used sim.json
      custody verify defence-1 --scope ./W1-scope

    \b
    Exit codes (docs/exit-codes.md):
      0  verified (also with a hand-over open, unless --require-closed-chain)
      1  not verified (changed, missing or extra files, bad signature, untrusted
         signer, an invalid timestamp; with --require-timestamp, signing time
         not proven; with --require-closed-chain, a hand-over awaiting its
         receipt; with --scope, a scope record not valid; with --used, an item
         outside it)
      2  usage error, BUNDLE is not a bundle, or a --tsa-root that is not a
         certificate
      3  the machine failed (an I/O error, object storage unreachable)
    Several bundles: 0 only if every one verified, else the most serious
    code (1 one did not verify, 2 one is not a bundle, 3 a machine failure).
    """
    render = app.configure(json_output=json_output, quiet=quiet)
    targets = [BundleRef(b) for b in bundles]
    if from_file is not None:
        try:
            text = from_file.read_text("utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise InputError("cannot read the list of bundles", path=str(from_file)) from e
        targets += parse_bundle_list(text, base=from_file.parent, name=str(from_file))
    if not targets:
        raise InputError("nothing to verify: give a BUNDLE or --from LIST")
    many = len(targets) > 1 or from_file is not None
    if many and report_path is not None:
        raise InputError("--report writes one bundle's report: give one BUNDLE")
    if (many or is_s3_url(targets[0].target)) and scope_record is not None:
        raise InputError("--scope checks one local bundle: give one BUNDLE")
    if used is not None and scope_record is None:
        raise InputError("--used needs --scope")
    policy = load_trust_policy(home=app.home, options=trust)
    signer = app.signer(key=key, passphrase_file=passphrase_file) if record else None
    if many:
        _verify_many(app, targets, policy, signer, endpoint_url, workers)
        return
    bundle = targets[0].target
    if not is_s3_url(bundle) and _is_package(Path(bundle)):
        from custody.cli.disclose import (
            verify_package_command,  # a disclosure package (custody.disclosure)
        )

        if record:
            raise InputError("--record records a bundle's verification, not a package's")
        if used is not None:
            raise InputError("--used is for a bundle; a package lists what it used: --scope alone")
        verify_package_command(app, Path(bundle), policy, report_path, scope=scope_record)
        return
    with render.progress("Verifying") as on_progress:
        if is_s3_url(bundle):
            from custody.ops.store_verify import verify_stored_bundle

            report = verify_stored_bundle(
                home=app.home,
                source=bundle,
                policy=policy,
                endpoint_url=endpoint_url,
                on_progress=on_progress,
            )
        else:
            report = verify_with_home(
                home=app.home,
                bundle=Path(bundle),
                policy=policy,
                on_progress=on_progress,
            )
    if signer is not None:
        index = record_verification(home=app.home, report=report, signer=signer)
        app.render.note(f"Recorded in your ledger as entry {index}.")
    if report_path is not None:
        from custody.ops.contents import read_contents
        from custody.render.report_html import render_report

        # Archive members and chats come from the signed metadata of a local
        # bundle; a bundle in object storage is reported by its files alone.
        contents = (
            None
            if is_s3_url(bundle)
            else read_contents(bundle=Path(bundle), statement=report.statement)
        )
        try:
            page = render_report(report.to_json(), contents)
            replace_file(report_path, page.encode("utf-8"))
        except OSError as e:
            raise environment_error(e, report_path) from e
        app.render.note(f"Report written to {report_path}")
    if scope_record is not None:  # the scope record, checked with the same trust
        from custody.ops.scope_verify import verify_scope

        scope = verify_scope(bundle=Path(bundle), record=scope_record, policy=policy, used=used)
        if render.json_output:
            render.json({**report.to_json(), "scope": scope.to_json()})
        else:
            render.verify_report(report)
            render.scope_report(scope)
        if not report.verified or not scope.ok:
            click.get_current_context().exit(EXIT_NOT_VERIFIED)
        return
    render.verify_report(report)
    if not report.verified:
        click.get_current_context().exit(EXIT_NOT_VERIFIED)


def _is_package(path: Path) -> bool:
    from custody.ops.disclosure.verify import is_package

    return is_package(path)


def _verify_many(
    app: App,
    targets: list[BundleRef],
    policy: TrustPolicy,
    signer: Signer | None,
    endpoint_url: str | None,
    workers: int | None,
) -> None:
    """Every bundle verified, each line shown as its turn comes, then the summary;
    exits with the most serious code."""
    from custody.ops.verify_many import VerifyTally, verify_many

    render = app.render
    tally = VerifyTally()
    first = last = None  # ledger entries recorded: the first and the last, not every one
    recorded = 0
    try:
        for outcome in verify_many(
            home=app.home,
            bundles=targets,
            count=len(targets),
            policy=policy,
            endpoint_url=endpoint_url,
            workers=workers,
            with_files=render.json_output,
        ):
            tally = tally.add(outcome)
            if signer is not None and outcome.package is not None:
                render.warning(f"{outcome.ref.target}: a disclosure package, not recorded")
            if signer is not None and outcome.report is not None:
                last = record_verification(home=app.home, report=outcome.report, signer=signer)
                first = last if first is None else first
                recorded += 1
            render.verify_outcome(outcome)
    except CustodyError as e:
        if not render.json_output:
            raise
        # The batch stopped (a worker died): one more JSON line, not a document that
        # would break the JSON Lines a script is reading.
        render.json_line({"error": {"kind": e.kind, "path": e.path, "message": e.message}})
        render.error(e.diagnostics())
        click.get_current_context().exit(e.exit_code)
    render.verify_summary(tally)
    if recorded == 1:
        render.note(f"Recorded in your ledger as entry {first}.")
    elif recorded:
        render.note(
            f"Recorded {recorded} verifications in your ledger (entries {first} to {last})."
        )
    if tally.exit_code:
        click.get_current_context().exit(tally.exit_code)
