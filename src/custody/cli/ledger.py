"""custody ledger show|verify|checkpoint|consistency."""

from __future__ import annotations

from pathlib import Path

import click

from custody.base.errors import EXIT_NOT_VERIFIED, InputError
from custody.cli._app import App, pass_app
from custody.cli._options import (
    json_option,
    passphrase_file_option,
    trust_options,
    tsa_timeout_option,
    tsa_url_option,
    witness_submit_options,
    witnesses_from_env,
    witnesses_given,
)
from custody.io.ledger_store import Ledger
from custody.ops.actions import interrupted_ingests
from custody.ops.ledger.audit import verify_ledger
from custody.ops.ledger.consistency import check_consistency
from custody.ops.ledger.timeline import checked_timeline
from custody.ops.trust import TrustOptions, load_trust_policy


@click.group("ledger")
def ledger_group() -> None:
    """Inspect and prove your append-only custody ledger.

    \b
    Examples:
      custody ledger show --case ICC-2026-014
      custody ledger verify
      custody ledger checkpoint > checkpoint-2026-11-25.txt
      custody ledger checkpoint --tsa https://tsa.example.org/tsr > checkpoint.txt
      custody ledger consistency checkpoint-2026-11-25.txt
      custody ledger witness --witness https://registry.example.org/witness
      custody ledger staple ./ICC-2026-014_JS-1_...
      custody ledger publish
    """


@ledger_group.command("show")
@click.option("--case", "case", help="Only entries for this case id.")
@click.option(
    "--exhibit",
    "exhibit",
    metavar="REF",
    help="Only entries for this exhibit reference (with --case: of that case).",
)
@json_option
@pass_app
def ledger_show(app: App, case: str | None, exhibit: str | None, json_output: bool) -> None:
    """A timeline of everything recorded: time, action, who, bundle, case,
    exhibit.

    An entry that names only a bundle (a hand-over, a verification) shows the
    exhibit that bundle's ingest recorded, and --exhibit keeps it. On a
    terminal the time is shown to the minute and a bundle id by its first 8
    characters; in a pipe (tab-separated) and with --json every value is whole.

    When the ledger no longer matches its signed checkpoint, one warning line
    says so, and every damaged entry is listed, marked, whatever its case.

    \b
    Examples:
      custody ledger show
      custody ledger show --case ICC-2026-014 --json
      custody ledger show --case ICC-2026-014 --exhibit JS/1
    """
    render = app.configure(json_output=json_output)
    with Ledger.open(app.home, create=False) as ledger:
        timeline = checked_timeline(ledger, case=case, exhibit=exhibit)
    if timeline.damage is not None:
        render.warning(
            f"the ledger is damaged ({timeline.damage}); damaged entries are marked: "
            "run 'custody ledger verify'"
        )
    render.ledger_rows(timeline.rows)


@ledger_group.command("verify")
@json_option
@pass_app
def ledger_verify(app: App, json_output: bool) -> None:
    """Recompute every entry hash, signature, tree node and checkpoint.

    Also checks every checkpoint kept with witnesses' cosignatures (it must be
    this ledger's, match its entries at that size and be signed by the key of
    its last entry; cosignatures by witnesses you trust must verify), and
    names every ingest that was killed midway (its entry, and the partial copy
    it left), until the next ingest records it as abandoned.

    \b
    Examples:
      custody ledger verify
      custody ledger verify --json

    Exit codes: 0 intact; 1 edited, deleted, inserted, reordered or truncated
    entries, or a bad checkpoint or cosigned checkpoint (each named); 2 no
    ledger.
    """
    render = app.configure(json_output=json_output)
    witnesses = load_trust_policy(home=app.home).witness_keys
    with Ledger.open(app.home, create=False) as ledger:
        report = verify_ledger(ledger, witnesses=witnesses)
        interrupted = interrupted_ingests(home=app.home, ledger=ledger)
    for line in interrupted:
        render.warning(line + " (the next ingest records and tidies it)")
    render.ledger_report(report, interrupted=interrupted)
    if not report.valid:
        click.get_current_context().exit(EXIT_NOT_VERIFIED)


@ledger_group.command("checkpoint")
@tsa_url_option
@tsa_timeout_option
@pass_app
def ledger_checkpoint(app: App, tsa_urls: tuple[str, ...], tsa_timeout: float | None) -> None:
    """Print the latest signed checkpoint (C2SP tlog-checkpoint signed note).

    Keep it in the case file or send it to the prosecutor: `custody ledger
    consistency` later proves the ledger still extends it.

    Only what was checked is printed: the checkpoint must match every entry
    of the ledger and be signed by the key of its last entry. Its copy with
    witnesses' cosignatures is printed instead when that copy is the same
    checkpoint, validly signed, and every cosignature by a witness you trust
    verifies; otherwise the checkpoint is printed without cosignatures and a
    warning names what was wrong with the copy.

    With --tsa URL (repeatable), each TSA stamps the checkpoint's exact bytes:
    the token proves that every entry up to its size existed by then. Tokens
    are kept beside the checkpoint in the ledger (their paths are shown on
    stderr; give a copy as CHECKPOINT.tsr with the checkpoint file). A TSA
    that fails is a warning; the checkpoint is printed all the same.

    \b
    Examples:
      custody ledger checkpoint > checkpoint-2026-11-25.txt
      custody ledger checkpoint --tsa https://tsa.example.org/tsr > checkpoint.txt

    Exit codes: 0 printed; 1 the ledger does not match its checkpoint
    (nothing printed: run `custody ledger verify`); 2 no ledger or no
    checkpoint yet.
    """
    import time

    from custody.io.tsa_client import request_timestamps
    from custody.ledger.checkpoint_time import store_checkpoint_tokens
    from custody.ops.ledger.cosigned import latest_checkpoint

    witnesses = load_trust_policy(home=app.home).witness_keys
    with Ledger.open(app.home, create=False) as ledger:
        latest = latest_checkpoint(ledger, witnesses=witnesses, now=int(time.time()))
        folder = ledger.checkpoint_file.parent
    if latest.warning is not None:
        app.render.warning(latest.warning)
    note = latest.note
    if tsa_urls:
        attempts = request_timestamps(tsa_urls, note, timeout=tsa_timeout)
        for attempt in attempts:
            if attempt.status != "granted":
                app.render.warning(attempt.warning())
        for path in store_checkpoint_tokens(folder, note, attempts):
            app.render.note(f"Timestamp of this checkpoint stored: {path}")
    click.echo(note.decode("utf-8"), nl=False)


@ledger_group.command("consistency")
@click.argument("old_checkpoint", type=click.Path(path_type=Path, dir_okay=False))
@trust_options("tsa-root", "witness-key", "quorum")
@json_option
@pass_app
def ledger_consistency(
    app: App,
    old_checkpoint: Path,
    trust: TrustOptions,
    json_output: bool,
) -> None:
    """Prove (RFC 9162) that today's ledger extends OLD_CHECKPOINT.

    When OLD_CHECKPOINT was timestamped (ledger checkpoint --tsa; tokens in
    the ledger, or OLD_CHECKPOINT.tsr beside it), each token is checked
    against your TSA roots and the proven time is shown.

    Cosignatures on OLD_CHECKPOINT by your witnesses (`custody witness
    trust`, --witness-key) are checked and shown. With --quorum N,
    OLD_CHECKPOINT, or a cosigned checkpoint of the ledger at or after it
    that the ledger extends, must carry N valid cosignatures.

    \b
    Example:
      custody ledger consistency checkpoint-2026-11-25.txt \\
          --witness-key registry.pub --quorum 1

    Exit codes: 0 consistent; 1 rolled back, forked or rewritten, an invalid
    timestamp, or the quorum is not met; 2 the file is not a checkpoint of
    this ledger.
    """
    import time

    from custody.ledger.checkpoint_time import (
        check_checkpoint_time,
        find_checkpoint_tokens,
        with_checkpoint_time,
    )

    render = app.configure(json_output=json_output)
    policy = load_trust_policy(home=app.home, options=trust)
    try:
        data = old_checkpoint.read_bytes()
    except OSError as e:
        raise InputError(e.strerror or "cannot read", path=str(old_checkpoint)) from e
    with Ledger.open(app.home, create=False) as ledger:
        result = check_consistency(
            ledger, data, source=str(old_checkpoint), policy=policy, now=int(time.time())
        )
        tokens = find_checkpoint_tokens(ledger.checkpoint_file.parent, data, beside=old_checkpoint)
    if tokens:
        stamped = check_checkpoint_time(data, tokens, policy.tsa_roots)
        result = with_checkpoint_time(result, stamped)
    from datetime import UTC, datetime

    from custody.ops.ledger.checkpoint_key import judge_checkpoint_key

    with Ledger.open(app.home, create=False) as ledger:
        result = judge_checkpoint_key(ledger, result, policy, now=datetime.now(UTC))
    render.consistency(result)
    if not result.consistent:
        click.get_current_context().exit(EXIT_NOT_VERIFIED)


@ledger_group.command("witness")
@witness_submit_options
@json_option
@pass_app
def ledger_witness(app: App, witnesses: tuple[str, ...], timeout: float, json_output: bool) -> None:
    """Have your ledger's latest checkpoint cosigned by witnesses.

    Each witness gets the checkpoint with a consistency proof from the size
    it last cosigned (learned from its 409 answer when needed); the
    cosignatures it returns are stored with that checkpoint, and bundles
    carry them (`custody ledger staple`). A witness that holds a different
    history of your ledger (rolled back or forked) is reported in one line,
    and both checkpoints are kept in the file that line names.

    \b
    Examples:
      custody ledger witness --witness https://registry.example.org/witness
      CUSTODY_WITNESS="http://10.0.0.5:8080 http://10.0.0.6:8080" \\
          custody ledger witness

    Exit codes: 0 every witness cosigned; 1 a witness holds a different
    history; 2 a witness refused (unknown ledger or key); 3 a witness is
    unreachable (try again later).
    """
    from custody.ops.witnessing import witness_checkpoint

    render = app.configure(json_output=json_output)
    run = witness_checkpoint(
        home=app.home,
        policy=load_trust_policy(home=app.home),
        urls=witnesses_given(witnesses),
        timeout=timeout,
    )
    render.witness_run(run)
    if run.exit_code:
        click.get_current_context().exit(run.exit_code)


@ledger_group.command("staple")
@click.argument("bundle", type=click.Path(path_type=Path))
@click.option("--key", "key", help="Your key, to record the staple (default: your only key).")
@passphrase_file_option
@json_option
@pass_app
def ledger_staple(
    app: App, bundle: Path, key: str | None, passphrase_file: Path | None, json_output: bool
) -> None:
    """Refresh BUNDLE's ledger proof with the newest cosigned checkpoint.

    For a bundle made offline: once `custody ledger witness` has a
    checkpoint cosigned, its proof is rewritten (atomically) to lead to that
    checkpoint, and the staple is recorded in your ledger. With
    $CUSTODY_WITNESS set, the witnesses are asked first.

    \b
    Example:
      custody ledger staple ./ICC-2026-014_JS-1_20261125T120000Z

    Exit codes: 0 stapled or already up to date; 2 not a bundle folder of
    this ledger, or no cosigned checkpoint includes it yet.
    """
    from custody.ops.witnessing import staple_bundle

    render = app.configure(json_output=json_output)
    urls = witnesses_from_env()
    signer = app.signer(key=key, passphrase_file=passphrase_file)
    result = staple_bundle(
        home=app.home,
        bundle=bundle,
        policy=load_trust_policy(home=app.home),
        signer=signer,
        urls=urls,
        warn=render.warning,
    )
    render.staple_result(result)


@ledger_group.command("publish")
@json_option
@pass_app
def ledger_publish(app: App, json_output: bool) -> None:
    """Send your signed entries and checkpoint, unchanged, to your team's log.

    Run it whenever you are online (it is idempotent: nothing is sent twice).
    With $CUSTODY_WITNESS set, the new team checkpoint is then submitted to
    those witnesses (`custody team witness`); one that does not cosign is a
    warning.
    When the team database cannot be reached nothing fails: your entries wait
    in your ledger and are published next time. A ledger that no longer
    extends what it published (rolled back, forked) is refused, and the
    refusal is recorded in the team log.

    \b
    Examples:
      custody team join postgresql://custody@db.team.example/custody
      custody ledger publish
      custody ledger publish --json

    \b
    Exit codes: 0 published, nothing new, or database unreachable (a warning);
    1 refused; 2 this home is in no team.
    """
    from custody.io.team.publish import publish_ledger
    from custody.ops.team_witnessing import witness_team_quietly

    render = app.configure(json_output=json_output)
    result = publish_ledger(home=app.home)
    render.team_published(result)
    if result.refused is not None:
        click.get_current_context().exit(EXIT_NOT_VERIFIED)
    if result.online:
        witness_team_quietly(
            home=app.home,
            policy=load_trust_policy(home=app.home),
            urls=witnesses_from_env(),
            warn=render.warning,
        )
