"""Operation: serve the intake. The web app (uvicorn, in this process) takes
uploads; a finisher thread starts `custody intake finish` in a separate
process for each submission a witness finished, so nothing uploaded is
parsed in the web process. Restart-safe: both read their state from DIR.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from custody.base.errors import CustodyError, EnvironmentFailure, InputError
from custody.ops.intake.shared import SharedOptions, open_state

POLL_SECONDS = 0.5


@dataclass(frozen=True)
class ServeConfig:
    home: Path
    data: Path
    case: str
    host: str
    port: int
    key: str | None
    """Which key signs (a selector for `--key`); the passphrase is passed in the
    finish processes' environment only."""
    passphrase: bytes | None
    tsa_urls: tuple[str, ...]
    max_size: int
    shared: SharedOptions = field(default_factory=SharedOptions)
    """Where the state lives when several servers share it (S3 and PostgreSQL)."""

    def state(self) -> Any:
        return open_state(home=self.home, data=self.data, options=self.shared)


def parse_bind(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise InputError(f"--bind must be HOST:PORT, not {text!r}")
    return host.strip("[]"), int(port)


class Finisher(threading.Thread):
    """Finishes waiting submissions one at a time, each in a child process."""

    def __init__(self, config: ServeConfig, log: logging.Logger) -> None:
        super().__init__(name="intake-finisher", daemon=True)
        self.config = config
        self.log = log
        self.stopping = threading.Event()

    def run(self) -> None:
        state = self.config.state()
        while not self.stopping.wait(POLL_SECONDS):
            try:
                waiting = list(state.submissions_waiting())
            except CustodyError as e:  # the shared database is away: try again later
                self.log.error("finisher: %s", e.message)
                continue
            for submission in waiting:
                if self.stopping.is_set():
                    return
                self.finish(submission)

    def finish(self, submission: str) -> None:
        c = self.config
        env = dict(os.environ, CUSTODY_HOME=str(c.home), **c.shared.env())
        if c.passphrase is not None:
            env["CUSTODY_PASSPHRASE"] = c.passphrase.decode("utf-8")
        if c.tsa_urls:
            env["CUSTODY_TSA"] = " ".join(c.tsa_urls)
        cmd = [sys.executable, "-m", "custody", "intake", "finish", "--data", str(c.data)]
        cmd += [*c.shared.args(), "--from-server"]
        if c.key:
            cmd += ["--key", c.key]
        cmd.append(submission)
        done = subprocess.run(cmd, env=env, capture_output=True, check=False)
        # Only the finish process's TSA warnings reach the log: they name no evidence.
        for line in done.stderr.decode("utf-8", "replace").splitlines()[-5:]:
            if line.startswith("custody: warning: timestamp from"):
                self.log.warning("finish: %s", line.removeprefix("custody: ")[:300])
        if done.returncode == 0:
            self.log.info("submission %s… ingested", submission[:12])
        else:
            state = c.state()
            if state.marker(submission, "result.json") is None and (
                state.marker(submission, "failed.json") is None
            ):
                # A finish that died without saying why is not retried in a loop.
                state.write_marker(
                    submission,
                    "failed.json",
                    {"kind": "error", "message": f"the finish process exited {done.returncode}"},
                )
            self.log.error(
                "submission %s… could not be ingested (exit %d); see 'custody intake list'",
                submission[:12],
                done.returncode,
            )


def serve_intake(*, config: ServeConfig, on_ready: Callable[[str], None] | None = None) -> None:
    """Serve until interrupted (Ctrl-C, SIGTERM)."""
    import uvicorn

    from custody.io.intake.page import page
    from custody.io.intake.web import IntakeApp, build_app

    state = config.state()
    state.ensure(config.case)
    html, csp = page()
    if config.shared.shared:
        from custody.io.intake.shared_web import SharedIntakeApp, build_shared_app

        state.ping()
        shared_app = SharedIntakeApp(
            state, page=html, page_csp=csp, now=lambda: datetime.now(UTC), max_size=config.max_size
        )
        asgi = build_shared_app(shared_app)
    else:
        app = IntakeApp(
            state, page=html, page_csp=csp, now=lambda: datetime.now(UTC), max_size=config.max_size
        )
        asgi = build_app(app)
    log = logging.getLogger("custody.intake")
    if not log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("custody intake: %(asctime)s %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
    finisher = Finisher(config, log)
    finisher.start()
    server = uvicorn.Server(
        uvicorn.Config(
            asgi,
            host=config.host,
            port=config.port,
            log_level="warning",
            access_log=False,
            server_header=False,
            date_header=False,
            h11_max_incomplete_event_size=64 * 1024,
            timeout_keep_alive=30,
        )
    )
    if on_ready is not None:

        def announce() -> None:
            while not finisher.stopping.wait(0.05):
                if server.started:
                    on_ready(f"http://{config.host}:{config.port}/")
                    return

        threading.Thread(target=announce, name="intake-ready", daemon=True).start()
    try:
        server.run()
    except SystemExit as e:  # uvicorn exits when it cannot bind
        raise EnvironmentFailure(
            f"cannot listen on {config.host}:{config.port} (in use, or not this machine's)"
        ) from e
    finally:
        finisher.stopping.set()
