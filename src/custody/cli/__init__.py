"""The command line: a thin click layer over the library.

Errors are mapped to exit codes here, in one place (see custody.base.errors).
"""

from __future__ import annotations

import contextlib
import importlib
import io
import signal
import sys
from types import FrameType
from typing import Any

import click

from custody import __version__
from custody.base.errors import EXIT_INTERRUPTED, EXIT_USAGE, CustodyError, Interrupted
from custody.cli._app import App

# Each command's module is imported only when that command runs: `custody verify`
# does not pay for loading the ingest pipeline and its metadata parsers.
COMMANDS = {
    "keygen": ("keys", "keygen_command"),
    "keys": ("keys", "keys_group"),
    "ingest": ("ingest", "ingest_command"),
    "verify": ("verify", "verify_command"),
    "transfer": ("handover", "transfer_command"),
    "receive": ("handover", "receive_command"),
    "ledger": ("ledger", "ledger_group"),
    "show": ("show", "show_command"),
    "audit": ("audit", "audit_command"),
    "authority": ("authority", "authority_group"),
    "timestamp": ("timestamp", "timestamp_command"),
    "tsa": ("tsa", "tsa_group"),
    "witness": ("witness", "witness_group"),
    "store": ("store", "store_group"),
    "team": ("team", "team_group"),
    "verifier": ("verifier", "verifier_command"),
    "select": ("select", "select_command"),
    "similar": ("similar", "similar_group"),
    "intake": ("intake", "intake_group"),
    "receipt": ("receipt", "receipt_group"),
    "disclose": ("disclose", "disclose_command"),
}

HELP = """custody: a chain of custody for digital evidence.

\b
Typical use:
  custody keygen --name "PC Jane Smith, War Crimes Team"
  custody ingest ./evidence --case ICC-2026-014 --exhibit JS/1
  custody verify ./ICC-2026-014_JS-1_20261125T120000Z
  custody transfer ./ICC-2026-014_JS-1_... --to registry.pub --reason "To the registry"
  custody ledger verify

\b
Exit codes (every command; per command in docs/exit-codes.md):
  0  success; for verify: verified
  1  not verified: evidence, signature or trust is wrong
  2  usage error, or input that is not usable (not a bundle, bad key...)
  3  the machine failed: disk full, permission denied on output, I/O error
  130  interrupted (Ctrl-C or SIGTERM); one line says what was left

State (keys, trust store, ledger) lives in $CUSTODY_HOME, by default ~/.custody.
"""


class CustodyGroup(click.Group):
    """Loads commands on demand; maps CustodyError to one line on stderr and its
    exit code."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        module, attr = COMMANDS[cmd_name]
        command: click.Command = getattr(importlib.import_module(f"{__name__}.{module}"), attr)
        return command

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except CustodyError as e:
            app = ctx.find_object(App)
            if app is None:
                app = App()
            app.fail(e)
            ctx.exit(e.exit_code)
        except KeyboardInterrupt as e:
            # Caught here, inside click's main: there it would become "Aborted!"
            # and exit 1, which means "not verified".
            line = e.message if isinstance(e, Interrupted) else "nothing was left half-written"
            app = ctx.find_object(App)
            if app is not None and app.render.json_output and not _said:
                # A script reading --json gets one error document, as for any other
                # failure (docs/exit-codes.md), on one line: it may end JSON Lines too.
                app.render.json_line(
                    {"error": {"kind": "interrupted", "path": None, "message": line}}
                )
            say_interrupted(line)
            ctx.exit(EXIT_INTERRUPTED)


@click.group(cls=CustodyGroup, help=HELP, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="custody", message="%(prog)s %(version)s")
@click.pass_context
def cli(ctx: click.Context) -> None:
    robust_streams()
    ctx.obj = App()
    _said.clear()  # one line per command, also when several run in one process (tests)


_said: list[str] = []


def say_interrupted(line: str) -> None:
    """The one line an interrupted command prints, once: a second Ctrl-C while
    it exits does not add another."""
    if not _said:
        _said.append(line)
        click.echo(f"custody: interrupted; {line}", err=True)


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def robust_streams() -> None:
    """Make stdout and stderr write what they cannot encode as backslash escapes
    (`\\udcff`, `\\u0416`) instead of raising UnicodeEncodeError, whatever
    PYTHONIOENCODING or the locale chose: no output can crash on any bytes. The
    renderer already makes evidence visible (custody.base.textsafe); this is the floor
    under every other line (click's own messages, an ASCII-only terminal)."""
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper) and stream.errors in ("strict", "surrogateescape"):
            # A closed or unusable stream has nothing to protect.
            with contextlib.suppress(ValueError, OSError):
                stream.reconfigure(errors="backslashreplace")


def main() -> None:
    """Console-script entry point. SIGTERM stops a command as Ctrl-C does: what
    it was writing is removed or named, and it exits 130 with one line."""
    robust_streams()  # before click parses anything: its own messages may name a path
    signal.signal(signal.SIGTERM, _terminate)
    try:
        cli.main(prog_name="custody")
    except KeyboardInterrupt:
        say_interrupted("nothing was left half-written")
        sys.exit(EXIT_INTERRUPTED)
    sys.exit(EXIT_USAGE)  # pragma: no cover - cli.main always exits
