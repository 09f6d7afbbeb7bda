"""custody similar: perceptual matching across bundles or a case, and the
analysts' confirm / reject decisions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from custody.base.errors import InputError
from custody.base.fsutil import environment_error, replace_file
from custody.cli._app import App, pass_app
from custody.cli._options import json_option, passphrase_file_option

MATCH = "match"


class SimilarGroup(click.Group):
    """`custody similar BUNDLE...` runs `match`; `confirm` and `reject` are
    subcommands (a bundle named like one is given as ./confirm)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = [MATCH, *args]
        return super().parse_args(ctx, args)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        found = self.commands.get(cmd_name)
        if found is None and cmd_name not in ("--help", "-h"):
            return self.commands.get(MATCH)  # a bundle path or an option of `match`
        return found

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        if args and args[0] not in self.commands:
            return MATCH, self.commands[MATCH], args
        return super().resolve_command(ctx, args)


@click.group("similar", cls=SimilarGroup)
def similar_group() -> None:
    """Find the images and videos that show the same picture across bundles
    or a whole case (PDQ perceptual hashes), and record an analyst's decision
    on a suggested match.

    A match is a lead, never a conclusion: it is reported at the stated
    thresholds (PDQ distance <= 31, quality >= 50), and anything else is "not
    detected", which never means "different". Crops, heavy overlays,
    screenshots with borders and letterboxing are known misses
    (docs/similar.md).

    `custody similar BUNDLE...` runs `custody similar match BUNDLE...`; its
    options (--case, --in, --report, --thumbnails, --record, --json) are in
    `custody similar match --help`.

    \b
    Examples:
      custody similar ./ICC-2026-014_JS-1_... ./ICC-2026-014_AB-2_...
      custody similar --case ICC-2026-014 --in /evidence --report sheet.html
      custody similar confirm SHA256_A SHA256_B --case ICC-2026-014 --note \\
          "Same strike, W1 and W4"
    """


@similar_group.command(MATCH)
@click.argument("bundles", nargs=-1, type=click.Path(path_type=Path))
@click.option("--case", help="Compare every bundle of this case the ledger records.")
@click.option(
    "--in",
    "search",
    multiple=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="Where to look for the case's bundles, two levels deep (repeatable; default: here).",
)
@click.option(
    "--pull",
    "pull",
    type=click.Path(path_type=Path, file_okay=False),
    help="Pull the case's bundles that are not found under --in but were pushed to an S3 "
    "store (custody store push) into this folder, and compare them too.",
)
@click.option(
    "--report",
    "report_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Also write an HTML contact sheet (self-contained, prints on A4).",
)
@click.option(
    "--thumbnails",
    type=click.Choice(["show", "blur", "none"]),
    default="show",
    show_default=True,
    help="Pictures on the contact sheet: shown, blurred beyond recognition, or none.",
)
@click.option(
    "--record",
    is_flag=True,
    help="Record the analysis of bundles made before ingest analysed them, as signed ledger "
    "entries (kept in $CUSTODY_HOME; the bundle is never changed).",
)
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="Compare only what this scope record (custody select) selects; one per bundle "
    "(repeatable; with --scope every bundle needs one). The output names each.",
)
@click.option("--key", help="Key to sign --record entries with (default: your only key).")
@passphrase_file_option
@json_option
@pass_app
def match_command(
    app: App,
    bundles: tuple[Path, ...],
    case: str | None,
    search: tuple[Path, ...],
    pull: Path | None,
    report_path: Path | None,
    thumbnails: str,
    record: bool,
    scopes: tuple[Path, ...],
    key: str | None,
    passphrase_file: Path | None,
    json_output: bool,
) -> None:
    """Group the images and videos of BUNDLE... (folders, .zip or .tar), or of
    every bundle of --case that the ledger records and --in holds, whose
    pictures or video frames match.

    Each group lists its files with bundle, exhibit, path, SHA-256, who
    submitted it and when, its capture time as recorded, and how it matched
    (distance; for video, which frames and what share of each video). The
    earliest recorded capture and the largest copy are marked. Confirmed
    groups, suggested groups and rejected pairs are shown apart.

    A bundle made before analysis existed is analysed now (never changed);
    --record keeps that analysis, signed in the ledger, for next time.

    \b
    Examples:
      custody similar ./ICC-2026-014_JS-1_... ./ICC-2026-014_AB-2_...
      custody similar --case ICC-2026-014 --in /evidence --json
      custody similar --case ICC-2026-014 --in /evidence --report sheet.html \\
          --thumbnails blur
      custody similar ./old-bundle ./new-bundle --record
      custody similar --case ICC-2026-014 --in /evidence \\
          --pull /evidence/from-store
      custody similar ./W1 ./W4 --scope W1.scope-20260303T101500Z \\
          --scope W4.scope-20260304T090000Z --json > sim.json
    """
    from custody.ops.similar import find_similar
    from custody.ops.similar_json import result_json

    render = app.configure(json_output=json_output)
    if not bundles and case is None:
        raise InputError("give BUNDLE paths, or --case ID (with --in where the bundles are)")
    signer = app.signer(key=key, passphrase_file=passphrase_file) if record else None
    result = find_similar(
        home=app.home,
        bundles=bundles,
        case=case,
        search=search,
        pull=pull,
        record=signer,
        on_warning=None if json_output else render.warning,
        on_note=render.note,
        scopes=scopes,
    )
    for s in result.scopes or ():
        render.note(
            f"Limited to scope record {s['record']} (scope.json SHA-256 "
            f"{s['scope_sha256'][:16]}...): {s['compared']} files of bundle {s['bundle_id']}."
        )
    data = result_json(result)
    if report_path is not None:
        _write_sheet(app, data, report_path, thumbnails)
    render.similar(data)


def _write_sheet(app: App, data: dict[str, Any], report_path: Path, mode: str) -> None:
    from custody.ops.similar_sheet import sheet_thumbnails
    from custody.render.similar_sheet import render_sheet

    page = render_sheet(data, sheet_thumbnails(data, mode=mode), mode=mode)
    try:
        replace_file(report_path, page.encode("utf-8"))
    except OSError as e:
        raise environment_error(e, report_path) from e
    app.render.note(f"Contact sheet written to {report_path}")


def _decision(
    app: App,
    *,
    confirm: bool,
    a: str,
    b: str,
    case: str,
    note: str,
    search: tuple[Path, ...],
    scopes: tuple[Path, ...],
    key: str | None,
    passphrase_file: Path | None,
    json_output: bool,
) -> None:
    from custody.ops.similar import decide_pair

    render = app.configure(json_output=json_output)
    signer = app.signer(key=key, passphrase_file=passphrase_file)
    result = decide_pair(
        home=app.home,
        case=case,
        a=a,
        b=b,
        confirm=confirm,
        note=note,
        signer=signer,
        search=search,
        scopes=scopes,
    )
    render.similar_decision(
        {
            "verdict": result.verdict,
            "case": result.case,
            "a": result.a,
            "b": result.b,
            "note": result.note,
            "entry": result.entry,
            "officer": result.officer,
            "time": result.time,
        }
    )


def _decision_options(command: Any) -> Any:
    for option in reversed(
        [
            click.argument("a"),
            click.argument("b"),
            click.option("--case", required=True, help="The case the two files belong to."),
            click.option("--note", required=True, help="Why: recorded, signed, in the ledger."),
            click.option(
                "--in",
                "search",
                multiple=True,
                type=click.Path(path_type=Path, file_okay=False),
                help="Where the case's bundles are (repeatable; default: here): A and B must "
                "be files of them.",
            ),
            click.option(
                "--scope",
                "scopes",
                multiple=True,
                type=click.Path(path_type=Path, file_okay=False),
                help="A and B must be files these scope records select (repeatable; their "
                "bundles under --in); anything else is refused.",
            ),
            click.option("--key", help="Key to sign with (default: your only key)."),
            passphrase_file_option,
            json_option,
            pass_app,
        ]
    ):
        command = option(command)  # type: ignore[operator]
    return command


@similar_group.command("confirm")
@_decision_options
def confirm_command(app: App, **given: Any) -> None:
    """Record that files A and B (by SHA-256) show the same picture or footage:
    a signed ledger entry. Nothing is merged or deleted; a later decision on
    the same pair takes its place in the output, and both stay in the ledger.

    \b
    Examples:
      custody similar confirm SHA256_A SHA256_B --case ICC-2026-014 \\
          --note "Same strike, W1 and W4"
      custody similar confirm SHA256_A SHA256_B --case ICC-2026-014 \\
          --in /evidence --note "Same"
      custody similar confirm SHA256_A SHA256_B --case ICC-2026-014 \\
          --in /evidence --scope W1-scope --note "Same"
    """
    _decision(app, confirm=True, **given)


@similar_group.command("reject")
@_decision_options
def reject_command(app: App, **given: Any) -> None:
    """Record that files A and B (by SHA-256) do not show the same thing,
    although suggested: a signed ledger entry; the pair is no longer grouped.

    \b
    Examples:
      custody similar reject SHA256_A SHA256_B --case ICC-2026-014 --note \\
          "Another street"
    """
    _decision(app, confirm=False, **given)
