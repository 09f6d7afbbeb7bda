"""The intake's tus endpoint against a plain upload, on loopback, in one run.

    python -m bench.intake [--size-mib 2048] [--chunk-mib 64] [--runs 2] [--dir /var/tmp]

Starts `custody intake serve` on 127.0.0.1 with one invitation and uploads one file of
random bytes through the tus endpoint (PATCH parts of --chunk-mib, each with its
Upload-Checksum, the server hashing every byte and fsyncing each part before answering),
then `curl -T` of the same file to a minimal HTTP server that only writes the body to disk
(and fsyncs it at the end). Prints the medians of --runs interleaved runs and the ratio
tus speed / curl speed (target: at least 0.5). The part checksums are computed before the
clock starts: they are the client's work, done while reading the file on a phone.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import http.client
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.run import MIB, officer_with_key, write_random

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.intake_server import IntakeServer, free_port  # noqa: E402

PLAIN_SERVER = r"""
import os, sys
from http.server import BaseHTTPRequestHandler, HTTPServer
OUT = sys.argv[2]
class H(BaseHTTPRequestHandler):
    def do_PUT(self):
        left = int(self.headers["Content-Length"])
        with open(OUT, "wb") as f:
            while left:
                b = self.rfile.read(min(left, 1 << 20))
                if not b:
                    break
                f.write(b)
                left -= len(b)
            f.flush()
            os.fsync(f.fileno())
        self.send_response(201)
        self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *a):
        pass
HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
"""


def wait_port(port: int) -> None:
    for _ in range(300):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.1):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


def tus_upload(port: int, token: str, path: Path, chunk: int, sums: list[bytes]) -> float:
    size = path.stat().st_size
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    base = {"Tus-Resumable": "1.0.0", "Custody-Invitation": token}
    start = time.perf_counter()
    conn.request("POST", "/files", headers={**base, "Upload-Length": str(size)})
    r = conn.getresponse()
    r.read()
    assert r.status == 201, r.status
    location = r.getheader("Location")
    with open(path, "rb") as f:
        for i, at in enumerate(range(0, size, chunk)):
            n = min(chunk, size - at)
            headers = {
                **base,
                "Content-Type": "application/offset+octet-stream",
                "Upload-Offset": str(at),
                "Content-Length": str(n),
                "Upload-Checksum": "sha256 " + base64.b64encode(sums[i]).decode(),
            }
            conn.putrequest("PATCH", str(location))
            for k, v in headers.items():
                conn.putheader(k, v)
            conn.endheaders()
            left = n
            while left:
                data = f.read(min(left, 1 << 20))
                conn.send(data)
                left -= len(data)
            r = conn.getresponse()
            r.read()
            assert r.status == 204, r.status
    conn.close()
    return time.perf_counter() - start


def curl_upload(port: int, path: Path) -> float:
    start = time.perf_counter()
    subprocess.run(
        ["curl", "-sS", "-o", "/dev/null", "-T", str(path), f"http://127.0.0.1:{port}/upload"],
        check=True,
    )
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size-mib", type=int, default=2048)
    parser.add_argument("--chunk-mib", type=int, default=64)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--dir", default=None)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="custody-bench-intake-", dir=args.dir))
    plain = None
    server = None
    try:
        env, _ = officer_with_key(root)
        home = Path(env["CUSTODY_HOME"])
        source = root / "video.mp4"
        write_random(source, args.size_mib * MIB, random.Random(25))
        chunk = args.chunk_mib * MIB
        sums = []
        with open(source, "rb") as f:
            while block := f.read(chunk):
                sums.append(hashlib.sha256(block).digest())
        data = root / "intake"
        run = [
            sys.executable,
            "-m",
            "custody",
            "intake",
            "invite",
            "--data",
            str(data),
            "--case",
            "BENCH-1",
            "--max-bytes",
            f"{args.size_mib * (args.runs + 1)}M",
            "--no-qr",
            "--json",
        ]
        server = IntakeServer(home, data, "BENCH-1", root / "serve.log")
        port_plain = free_port()
        plain = subprocess.Popen(
            [sys.executable, "-c", PLAIN_SERVER, str(port_plain), str(root / "plain.out")]
        )
        server.start()
        wait_port(port_plain)
        tus_times, curl_times = [], []
        for i in range(args.runs):
            invited = subprocess.run(
                [*run, "--ref", f"R{i}"],
                env={**os.environ, **env},
                capture_output=True,
                check=True,
            )
            token = json.loads(invited.stdout)["link"].split("#", 1)[1]
            tus_times.append(tus_upload(server.port, token, source, chunk, sums))
            curl_times.append(curl_upload(port_plain, source))
            for part in data.rglob("*.part"):
                part.unlink()
        size = args.size_mib * MIB
        tus_s, curl_s = statistics.median(tus_times), statistics.median(curl_times)
        print(f"file: {args.size_mib} MiB, parts of {args.chunk_mib} MiB, {args.runs} runs")
        print(f"tus (custody intake):  {tus_s:7.2f} s  {size / tus_s / MIB:8.1f} MiB/s")
        print(f"curl -T (plain write): {curl_s:7.2f} s  {size / curl_s / MIB:8.1f} MiB/s")
        print(f"ratio tus/curl speed:  {curl_s / tus_s:7.2f}  (target >= 0.5)")
    finally:
        if server is not None:
            server.stop()
        if plain is not None:
            plain.terminate()
            plain.wait()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
