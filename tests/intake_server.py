"""A real `custody intake serve` on loopback for tests, started as a
subprocess on a free port and stopped (or killed) by pid, and a raw tus 1.0
client written from the protocol text with http.client only."""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conftest import PASSPHRASE

STARTUP_TIMEOUT_S = 30.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class IntakeServer:
    home: Path
    data: Path
    case: str
    log: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    args: tuple[str, ...] = ()
    env: dict[str, str | None] = field(default_factory=dict)
    """Variables to set (or, None, to unset) for the server (e.g. an S3 server's)."""

    def start(self) -> IntakeServer:
        env = dict(os.environ, CUSTODY_HOME=str(self.home), CUSTODY_PASSPHRASE=PASSPHRASE)
        env.pop("CUSTODY_KEY", None)
        for name, value in self.env.items():
            if value is None:
                env.pop(name, None)
            else:
                env[name] = value
        cmd = [
            sys.executable,
            "-m",
            "custody",
            "intake",
            "serve",
            "--data",
            str(self.data),
            "--case",
            self.case,
            "--bind",
            f"127.0.0.1:{self.port}",
            *self.args,
        ]
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=log)
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError(self.log.read_text()) from None
                time.sleep(0.05)
        raise RuntimeError("intake server did not start: " + self.log.read_text())

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, sig)
            self.proc.wait(timeout=15)
        self.proc = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class TusClient:
    """A raw tus client holding one invitation token."""

    def __init__(self, port: int, token: str) -> None:
        self.port = port
        self.token = token

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            h = {"Tus-Resumable": "1.0.0", "Custody-Invitation": self.token, **(headers or {})}
            conn.request(method, path, body=body, headers=h)
            r = conn.getresponse()
            return Reply(r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
        finally:
            conn.close()

    def create(
        self, length: int, name: str | bytes | None = None, sha256: str | None = None
    ) -> Reply:
        meta = []
        if name is not None:
            raw = name.encode() if isinstance(name, str) else name
            meta.append("filename " + base64.b64encode(raw).decode())
        if sha256 is not None:
            meta.append("sha256 " + base64.b64encode(sha256.encode()).decode())
        headers = {"Upload-Length": str(length)}
        if meta:
            headers["Upload-Metadata"] = ",".join(meta)
        return self.request("POST", "/files", headers=headers)

    def patch(
        self, location: str, offset: int, data: bytes, *, checksum: bytes | None = b""
    ) -> Reply:
        headers = {"Content-Type": "application/offset+octet-stream", "Upload-Offset": str(offset)}
        if checksum == b"":
            checksum = hashlib.sha256(data).digest()
        if checksum is not None:
            headers["Upload-Checksum"] = "sha256 " + base64.b64encode(checksum).decode()
        for _ in range(
            50
        ):  # 423: another request still holds the upload (as tus-js-client retries)
            reply = self.request("PATCH", location, data, headers)
            if reply.status != 423:
                return reply
            time.sleep(0.1)
        return reply

    def offset(self, location: str) -> int:
        r = self.request("HEAD", location)
        assert r.status == 200, r
        return int(r.headers["upload-offset"])

    def upload(self, data: bytes, name: str = "file.bin", chunk: int = 64 * 1024) -> str:
        r = self.create(len(data), name, hashlib.sha256(data).hexdigest())
        assert r.status == 201, r
        location = r.headers["location"]
        at = 0
        while at < len(data):
            r = self.patch(location, at, data[at : at + chunk])
            assert r.status == 204, r
            at = int(r.headers["upload-offset"])
        return location

    def partial_patch(self, location: str, offset: int, data: bytes, declared: int) -> None:
        """Send `data` of a body declared `declared` bytes long (no checksum), then
        drop the connection: a connection lost mid-part."""
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        head = (
            f"PATCH {location} HTTP/1.1\r\nHost: 127.0.0.1\r\nTus-Resumable: 1.0.0\r\n"
            f"Custody-Invitation: {self.token}\r\nContent-Type: application/offset+octet-stream\r\n"
            f"Upload-Offset: {offset}\r\nContent-Length: {declared}\r\n\r\n"
        ).encode()
        sock.sendall(head + data)
        time.sleep(0.3)
        sock.close()
        time.sleep(0.3)  # the server notices the lost connection and keeps what came

    def finish(self, names: bool = False) -> Reply:
        return self.request(
            "POST",
            "/api/finish",
            json.dumps({"names": names}).encode(),
            {"Content-Type": "application/json"},
        )

    def wait_receipt(self, timeout: float = 60.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            r = self.request("GET", "/api/receipt")
            doc = r.json()
            if doc["state"] in ("ingested", "failed"):
                return dict(doc)
            time.sleep(0.2)
        raise AssertionError("no receipt in time")
