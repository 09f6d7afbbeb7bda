"""custody witness init|add-log|serve|trust."""

from __future__ import annotations

import contextlib
import signal
from pathlib import Path
from types import FrameType

import click

from custody.cli._app import App, pass_app
from custody.cli._options import emit_public_key_file, json_option


@click.group("witness")
def witness_group() -> None:
    """Run a witness that cosigns other people's ledger checkpoints, or choose
    the witnesses whose cosignatures you accept.

    A witness (the unit's supervisor, the prosecution service, a court
    registry) cosigns a ledger's checkpoint only when it extends the last one
    it cosigned: nobody can then show two different histories (C2SP
    tlog-witness, tlog-cosignature/v1).

    \b
    Running a witness:
      custody witness init --name registry.example.org/witness
      custody witness add-log custody-ledger/0f4c... --key jane.pub
      custody witness serve --listen 127.0.0.1:8080
    Choosing witnesses, as a verifier:
      custody witness trust witness.pub
      custody verify BUNDLE --quorum 1
    """


@witness_group.command("init")
@click.option(
    "--name",
    required=True,
    help="The witness's name, a schema-less URL such as registry.example.org/witness.",
)
@json_option
@pass_app
def witness_init(app: App, name: str, json_output: bool) -> None:
    """Create this home's witness key ($CUSTODY_HOME/witness/).

    Give the public key file (witness.pub) to those who verify: they choose
    it with `custody witness trust witness.pub`.

    \b
    Examples:
      custody witness init --name "ICC registry witness"
    """
    from custody.witness.config import init_witness

    render = app.configure(json_output=json_output)
    identity = init_witness(home=app.home, name=name)
    if render.json_output:
        render.json(identity.to_json())
        return
    render.info(f"Witness {identity.name} created.")
    render.info(f"Public key: {identity.public_key_path}")
    render.info(f"Verifier key: {identity.vkey}")


@witness_group.command("export")
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write the public key file here (never overwritten) instead of stdout.",
)
@pass_app
def witness_export(app: App, output: Path | None) -> None:
    """Print this witness's public key file, to give to verifiers.

    \b
    Example:
      custody witness export -o registry-witness.pub
    """
    from custody.witness.config import public_key_file

    if emit_public_key_file(public_key_file(home=app.home), output):
        app.render.info(f"Public key written to {output}")


@witness_group.command("add-log")
@click.argument("origin")
@click.option(
    "--key",
    "key",
    required=True,
    metavar="KEY_OR_FINGERPRINT",
    help="The public key file (or the fingerprint of a trusted key) that signs its checkpoints.",
)
@json_option
@pass_app
def witness_add_log(app: App, origin: str, key: str, json_output: bool) -> None:
    """Accept checkpoints of the ledger ORIGIN signed by KEY.

    ORIGIN is the first line of the ledger's checkpoint (`custody ledger
    checkpoint | head -1`). Repeat with each key that signs for that ledger.

    \b
    Examples:
      custody witness add-log "$(head -1 checkpoint.txt)" --key jane-ledger.pub
    """
    from custody.witness.config import add_log

    render = app.configure(json_output=json_output)
    result = add_log(home=app.home, origin=origin, key=key)
    if render.json_output:
        render.json(result.to_json())
        return
    state = "now accepted" if result.added else "was already accepted"
    render.info(f"{result.origin}: key {result.key_name} ({result.fingerprint[:16]}) {state}.")


@witness_group.command("serve")
@click.option(
    "--listen",
    default="127.0.0.1:8080",
    show_default=True,
    help="HOST:PORT to listen on (port 0: any free port, printed on stderr).",
)
@pass_app
def witness_serve(app: App, listen: str) -> None:
    """Serve the C2SP tlog-witness add-checkpoint endpoint.

    POST /add-checkpoint: 200 with a cosignature line; 400 malformed; 403 no
    valid signature by the log's keys; 404 unknown log; 409 the old size is
    not the witness's (body: its size); 422 the consistency proof fails. The
    state is stored durably before every 200. One log line per request on
    stderr. `add-log` takes effect without a restart. Stops on SIGTERM or
    Ctrl-C.

    \b
    Example:
      custody witness serve --listen 127.0.0.1:8080
    """
    from custody.io.witness_server import make_server, parse_listen, unix_now
    from custody.witness.config import LogsFile, load_witness
    from custody.witness.handler import Witness

    def log_to_stderr(line: str) -> None:
        app.render.note(line)  # a request line names what a client sent: made visible

    from custody.witness.state import FileStateStore

    config = load_witness(home=app.home)
    host, port = parse_listen(listen)
    witness = Witness(
        config.name,
        config.private_key,
        LogsFile(app.home, config.logs),
        FileStateStore(config.state_dir),
        unix_now,
    )
    server = make_server(witness, host, port, log_to_stderr)

    def stop(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    bound_host, bound_port = str(server.server_address[0]), int(server.server_address[1])
    log_to_stderr(
        f"custody witness {config.name} listening on http://{bound_host}:{bound_port} "
        f"({len(config.logs)} log(s))"
    )
    try:
        with contextlib.suppress(KeyboardInterrupt):
            server.serve_forever()
    finally:
        server.server_close()
        log_to_stderr("custody witness stopped")


@witness_group.command("trust")
@click.argument("public_key", type=click.Path(path_type=Path, dir_okay=False))
@json_option
@pass_app
def witness_trust(app: App, public_key: Path, json_output: bool) -> None:
    """Accept cosignatures by the witness whose public key is PUBLIC_KEY.

    Stored in $CUSTODY_HOME/witnesses/. `verify --quorum N` and `ledger
    consistency --quorum N` then require N of your witnesses.

    \b
    Examples:
      custody witness trust registry-witness.pub
    """
    from custody.witness.trust import trust_witness

    render = app.configure(json_output=json_output)
    result = trust_witness(home=app.home, path=public_key)
    if render.json_output:
        render.json(result.to_json())
        return
    state = "now trusted" if result.added else "was already trusted"
    render.info(f"Witness {result.name} ({result.fingerprint[:16]}) {state}.")
