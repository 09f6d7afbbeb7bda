"""A real PostgreSQL server for tests: initdb + postgres in a temporary folder,
on 127.0.0.1 and a free port, its unix socket in that folder, stopped by pid.

initdb refuses to run as root, so when the tests run as root the server runs as
the `postgres` user (Debian's package creates it). Nothing here is mocked.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg


def find_binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


def available() -> bool:
    if find_binary("initdb") is None or find_binary("postgres") is None:
        return False
    if os.getuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return False
    return True


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PgServer:
    """One PostgreSQL cluster. `start`, `stop`, `kill9`, `restart`, `new_database`."""

    def __init__(self, *, fsync: bool = True) -> None:
        self.fsync = fsync
        self.dir = Path(tempfile.mkdtemp(prefix="custody-pg-"))
        self.data = self.dir / "data"
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self._as_postgres = os.getuid() == 0
        if self._as_postgres:
            pw = pwd.getpwnam("postgres")
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        self._run(
            [
                str(find_binary("initdb")),
                "-D",
                str(self.data),
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
                "-E",
                "UTF8",
            ]
        )

    def _user(self) -> dict[str, Any]:
        return {"user": "postgres", "group": "postgres"} if self._as_postgres else {}

    def _run(self, cmd: list[str]) -> None:
        subprocess.run(cmd, check=True, capture_output=True, cwd=self.dir, **self._user())

    def start(self) -> None:
        for _ in range(5):
            log = open(self.dir / "server.log", "ab")  # noqa: SIM115 - the server owns it
            self.proc = subprocess.Popen(
                [
                    str(find_binary("postgres")),
                    "-D",
                    str(self.data),
                    "-c",
                    "listen_addresses=127.0.0.1",
                    "-c",
                    f"port={self.port}",
                    "-c",
                    f"unix_socket_directories={self.dir}",
                    "-c",
                    "max_connections=60",
                    "-c",
                    f"fsync={'on' if self.fsync else 'off'}",
                    "-c",
                    "synchronous_commit=on",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.dir,
                **self._user(),
            )
            log.close()
            if self._wait_ready():
                return
            self._reap()
            self.port = free_port()  # the port was taken meanwhile: another one
        raise RuntimeError(f"PostgreSQL did not start: {(self.dir / 'server.log').read_text()}")

    def _wait_ready(self) -> bool:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc is None or self.proc.poll() is not None:
                return False
            try:
                with psycopg.connect(self.url("postgres"), connect_timeout=2):
                    return True
            except psycopg.OperationalError:
                time.sleep(0.1)
        return False

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
        return self.url(name)

    def children(self) -> list[int]:
        """The server's backend processes (the postmaster's children)."""
        if self.proc is None:
            return []
        out = []
        for stat in glob.glob("/proc/[0-9]*/stat"):
            with contextlib.suppress(OSError, IndexError, ValueError):
                text = Path(stat).read_text()
                ppid = int(text[text.rindex(")") + 2 :].split()[1])
                if ppid == self.proc.pid:
                    out.append(int(Path(stat).parent.name))
        return out

    def kill9(self) -> None:
        """kill -9 the postmaster and every backend, by pid: a power cut for the server."""
        if self.proc is None:
            return
        victims = [self.proc.pid, *self.children()]
        for pid in victims:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.proc.wait()
        self.proc = None
        deadline = time.monotonic() + 30
        while any(Path(f"/proc/{pid}").exists() for pid in victims):
            if time.monotonic() > deadline:
                break
            time.sleep(0.05)

    def _reap(self) -> None:
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGINT)  # fast shutdown
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill9()
        self.proc = None

    def stop(self) -> None:
        self._reap()

    def restart(self) -> None:
        self.stop()
        self.start()

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
