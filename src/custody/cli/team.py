"""custody team init|join|show|verify|proof|key."""

from __future__ import annotations

from pathlib import Path

import click

from custody.base.errors import EXIT_NOT_VERIFIED
from custody.cli._app import App, pass_app
from custody.cli._options import (
    json_option,
    witness_submit_options,
    witnesses_from_env,
    witnesses_given,
)
from custody.ops.trust import load_trust_policy


@click.group("team")
def team_group() -> None:
    """A shared team log on PostgreSQL: every officer's ledger in one record.

    \b
    Examples:
      custody team init --database postgresql://custody@db/custody --name "Met War Crimes Team"
      custody team join postgresql://custody@db/custody
      custody ledger publish
      custody team show --case ICC-2026-014
      custody team verify
      custody team proof ./ICC-2026-014_JS-1_20261125T120000Z
      custody team witness --witness https://registry.example.org/witness
      custody team key > met-team.pub
    """


@team_group.command("init")
@click.option("--database", required=True, metavar="URL", help="postgresql:// URL of the database.")
@click.option("--name", required=True, help="The team's name, e.g. 'Met War Crimes Team'.")
@json_option
@pass_app
def team_init(app: App, database: str, name: str, json_output: bool) -> None:
    """Create the team log (schema and team key) in an empty database, and join it.

    \b
    Examples:
      custody team init --database postgresql://db.team/custody --name \\
          "Met War Crimes Team"

    Exit codes: 0 created; 2 the database already holds a team log; 3 the
    database cannot be reached.
    """
    from custody.io.team.log import init_team

    render = app.configure(json_output=json_output)
    render.team_info(init_team(home=app.home, database=database, name=name), joined=False)


@team_group.command("join")
@click.argument("database", metavar="URL")
@click.option(
    "--team-key",
    "team_key",
    metavar="FILE_OR_FINGERPRINT",
    help="The team key your team lead gave you (met-team.pub, or its fingerprint): "
    "join only if the database holds this key.",
)
@json_option
@pass_app
def team_join(app: App, database: str, team_key: str | None, json_output: bool) -> None:
    """Join the team log in the database at URL: pin its key, remember the URL.

    Without --team-key, compare the fingerprint printed with the one your
    team lead gives you.

    \b
    Examples:
      custody team join postgresql://custody@db.team.example/custody \\
          --team-key met-team.pub
      custody team join postgresql://custody@db.team.example/custody

    Exit codes: 0 joined; 1 the database holds another team key than the one
    given (not joined); 2 another team, or no team log there; 3 the database
    cannot be reached.
    """
    from custody.base.keys import key_or_fingerprint
    from custody.io.team.log import join_team

    render = app.configure(json_output=json_output)
    expected = None
    if team_key is not None:
        given = key_or_fingerprint(team_key, option="--team-key")
        expected = given if isinstance(given, str) else given.fingerprint
    render.team_info(join_team(home=app.home, database=database, expected=expected), joined=True)


@team_group.command("show")
@click.option("--case", "case", help="Only entries for this case id.")
@json_option
@pass_app
def team_show(app: App, case: str | None, json_output: bool) -> None:
    """The whole team's chain of custody, in the team log's order, across officers.

    \b
    Examples:
      custody team show --case ICC-2026-014
    """
    from custody.ops.team_query import team_timeline

    render = app.configure(json_output=json_output)
    render.team_rows(team_timeline(home=app.home, case=case))


@team_group.command("verify")
@click.option("--database", metavar="URL", help="Audit this database instead of the joined one.")
@json_option
@pass_app
def team_verify(app: App, database: str | None, json_output: bool) -> None:
    """Audit everything: every leaf's signature and each officer's chain, the
    tree, every checkpoint; then print the current checkpoint.

    \b
    Examples:
      custody team verify
      custody team verify --json

    Exit codes: 0 intact; 1 edited, deleted, reordered or forged rows (each
    named); 2 not in a team; 3 the database cannot be reached.
    """
    from custody.ops.team_query import verify_team

    render = app.configure(json_output=json_output)
    report = verify_team(home=app.home, policy=load_trust_policy(home=app.home), database=database)
    render.team_report(report)
    if not report.valid:
        click.get_current_context().exit(EXIT_NOT_VERIFIED)


@team_group.command("proof")
@click.argument("bundle", type=click.Path(path_type=Path, file_okay=False))
@json_option
@pass_app
def team_proof(app: App, bundle: Path, json_output: bool) -> None:
    """Staple the team log's inclusion proof of BUNDLE's ingest into BUNDLE
    (custody/team-proof.json), which `custody verify` checks offline.

    The proof leads to the newest team checkpoint witnesses cosigned that
    includes the ingest (`custody team witness`), or else to the current one.
    With $CUSTODY_WITNESS set, the witnesses are asked first. Run it again
    later to staple a newer cosigned checkpoint.

    \b
    Example:
      custody team proof ./ICC-2026-014_JS-1_20261125T120000Z
    """
    from custody.ops.team_query import staple_team_proof

    render = app.configure(json_output=json_output)
    result = staple_team_proof(
        home=app.home,
        bundle=bundle,
        policy=load_trust_policy(home=app.home),
        urls=witnesses_from_env(),
        warn=render.warning,
    )
    render.team_proof(result)


@team_group.command("witness")
@witness_submit_options
@json_option
@pass_app
def team_witness(app: App, witnesses: tuple[str, ...], timeout: float, json_output: bool) -> None:
    """Have the team log's current checkpoint cosigned by witnesses.

    Team checkpoints are C2SP checkpoints: a witness's operator accepts them
    with `custody witness add-log <team origin> --key TEAM.pub`. The
    cosignatures are kept in the team database, for every officer's `team
    proof`; `ledger publish` asks the witnesses in $CUSTODY_WITNESS too. A
    witness that holds a different history of the team log (rolled back or
    rewritten) is reported in one line, and both checkpoints are kept in the
    file that line names.

    \b
    Examples:
      custody team witness --witness https://registry.example.org/witness
      CUSTODY_WITNESS="http://10.0.0.5:8080" custody team witness --json

    Exit codes: 0 every witness cosigned; 1 a witness holds a different
    history; 2 a witness refused (unknown log or key), or not in a team;
    3 a witness or the database is unreachable (try again later).
    """
    from custody.ops.team_witnessing import witness_team

    render = app.configure(json_output=json_output)
    run = witness_team(
        home=app.home,
        policy=load_trust_policy(home=app.home),
        urls=witnesses_given(witnesses),
        timeout=timeout,
    )
    render.witness_run(run)
    if run.exit_code:
        click.get_current_context().exit(run.exit_code)


@team_group.command("key")
@pass_app
def team_key(app: App) -> None:
    """Print the team log's public key (pinned when this home joined), for
    verifiers: custody verify BUNDLE --team-key FILE.

    \b
    Examples:
      custody team key > met-team.pub
    """
    from custody.base.keys import public_key_file_bytes
    from custody.team.config import load_team_config

    config = load_team_config(app.home)
    click.echo(public_key_file_bytes(config.name, config.key.public_key).decode(), nl=False)
