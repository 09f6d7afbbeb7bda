"""A real `custody witness serve` on loopback for tests: started as a subprocess
on a free port (port 0, read back from its first log line), stopped by pid.

Also an independent C2SP cosignature/v1 verifier, written from the spec text
(https://c2sp.org/tlog-cosignature, https://c2sp.org/signed-note) with only
the standard library and pyca/cryptography: it shares no code with custody.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

STARTUP_TIMEOUT_S = 30.0


@dataclass
class WitnessProcess:
    home: Path
    log: Path
    proc: subprocess.Popen[bytes]
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def post(self, path: str, body: bytes) -> tuple[int, str, bytes]:
        """One raw HTTP request: (status, Content-Type, body)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request("POST", path, body=body, headers={"Content-Type": "text/plain"})
            resp = conn.getresponse()
            return resp.status, resp.getheader("Content-Type", ""), resp.read()
        finally:
            conn.close()

    def get(self, path: str) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request("GET", path)
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            conn.close()

    def log_lines(self) -> list[str]:
        return self.log.read_text().splitlines()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def kill9(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


def start_witness(home: Path, log: Path, port: int = 0) -> WitnessProcess:
    """Start `custody witness serve` for the witness under `home`."""
    env = {**os.environ, "CUSTODY_HOME": str(home)}
    start = log.stat().st_size if log.exists() else 0
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "custody", "witness", "serve", "--listen", f"127.0.0.1:{port}"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=out,
        )
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        text = log.read_bytes()[start:].decode("utf-8", "replace")
        found = re.findall(r"listening on http://127\.0\.0\.1:(\d+)", text)
        if found:
            return WitnessProcess(home, log, proc, int(found[-1]))
        if proc.poll() is not None:
            raise RuntimeError(f"witness exited: {log.read_text()}")
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    raise RuntimeError("witness did not start")


# --- an independent verifier, straight from the C2SP text ----------------------------------


def read_spki_pem(path: Path) -> Ed25519PublicKey:
    data = path.read_bytes()
    key = serialization.load_pem_public_key(data[data.index(b"-----BEGIN") :])
    assert isinstance(key, Ed25519PublicKey)
    return key


def spec_key_id(name: str, key: Ed25519PublicKey) -> bytes:
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    # tlog-cosignature: SHA-256(<name> || "\n" || 0x04 || 32-byte Ed25519 public key)[:4]
    return hashlib.sha256(name.encode("utf-8") + b"\x0a" + b"\x04" + raw).digest()[:4]


def spec_verify_cosignature(note_body: bytes, line: str, name: str, key: Ed25519PublicKey) -> int:
    """Check one cosignature line over a checkpoint body (text up to and
    including its final newline, no signature lines). Returns the timestamp;
    raises AssertionError or InvalidSignature."""
    assert line.startswith("\u2014 "), "a note signature line starts with U+2014 and a space"
    key_name, b64 = line[2:].split(" ")
    assert key_name == name
    blob = base64.b64decode(b64, validate=True)
    assert len(blob) == 4 + 8 + 64, "key ID, u64 timestamp, Ed25519 signature"
    assert blob[:4] == spec_key_id(name, key)
    timestamp = int.from_bytes(blob[4:12], "big")
    assert timestamp <= 2**63 - 1
    message = b"cosignature/v1\n" + b"time " + str(timestamp).encode("ascii") + b"\n" + note_body
    key.verify(blob[12:], message)  # raises InvalidSignature
    return timestamp


def note_body_and_lines(note: str) -> tuple[bytes, list[str]]:
    body, _, sigs = note.partition("\n\n")
    return (body + "\n").encode("utf-8"), [s for s in sigs.split("\n") if s]


__all__ = [
    "InvalidSignature",
    "WitnessProcess",
    "note_body_and_lines",
    "read_spki_pem",
    "spec_key_id",
    "spec_verify_cosignature",
    "start_witness",
]
