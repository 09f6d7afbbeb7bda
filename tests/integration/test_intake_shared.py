"""Several intake servers behind one proxy: two real `custody intake serve`
processes on two ports, sharing one PostgreSQL (the records, row locks) and
one S3 server (the bytes). An upload started on one goes on on the other;
a bad chunk is refused on either; kill -9 of one mid-part lets the other go
on from the last offset it recorded; revoking an invitation is seen by both;
the finish makes a bundle of exactly the bytes sent."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from conftest import Env, validate
from intake_server import IntakeServer, TusClient
from s3_server import S3Server
from s3_server import s3_server as s3_server  # the session fixture

CASE = "ICC-2026-014"


@dataclass
class Pair:
    a: IntakeServer
    b: IntakeServer
    shared: tuple[str, ...]
    aws: dict[str, str | None]
    store: str
    bucket: str


@pytest.fixture
def pair(env: Env, pg: Any, s3_server: S3Server) -> Iterator[Pair]:
    result, _ = env.run_json("keygen", "--name", "Intake, War Crimes Team")
    assert result.exit_code == 0, result.output
    bucket = s3_server.new_bucket(lock=False)
    store = f"s3://{bucket}/intake/{CASE}"
    shared = (
        "--store",
        store,
        "--endpoint-url",
        s3_server.endpoint,
        "--database",
        pg.new_database(),
    )
    aws = s3_server.env()
    servers = []
    for name in ("a", "b"):
        server = IntakeServer(
            env.home,
            env.tmp / f"intake-{name}",
            CASE,
            env.tmp / f"serve-{name}.log",
            args=shared,
            env=aws,
        )
        servers.append(server)
    p = Pair(servers[0], servers[1], shared, aws, store, bucket)
    invite(env, p, "W0")  # makes the shared records before the servers start
    try:
        for server in servers:
            server.start()
        yield p
    finally:
        for server in servers:
            server.stop()


def invite(env: Env, p: Pair, ref: str, *extra: str) -> str:
    result = env.run(
        "intake", "invite", "--data", env.tmp / "officer", "--case", CASE, "--ref", ref,
        "--url", p.a.url, "--no-qr", "--json", *p.shared, *extra, env=p.aws,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    validate("intake-invite", doc)
    return str(doc["link"].split("#", 1)[1])


def hold_open_patch(
    port: int, token: str, location: str, offset: int, data: bytes, declared: int
) -> socket.socket:
    """Start a PATCH declared `declared` bytes long, send `data` and keep the
    connection open."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    head = (
        f"PATCH {location} HTTP/1.1\r\nHost: 127.0.0.1\r\nTus-Resumable: 1.0.0\r\n"
        f"Custody-Invitation: {token}\r\nContent-Type: application/offset+octet-stream\r\n"
        f"Upload-Offset: {offset}\r\nContent-Length: {declared}\r\n\r\n"
    ).encode()
    sock.sendall(head + data)
    return sock


def wait_for_row_lock(database: str) -> None:
    """Until a transaction holds a row of the uploads table FOR UPDATE."""
    import psycopg

    deadline = time.monotonic() + 10
    with psycopg.connect(database, autocommit=True) as conn:
        while time.monotonic() < deadline:
            row = conn.execute(
                "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
                "WHERE c.relname = 'uploads' AND l.mode = 'RowShareLock'"
            ).fetchone()
            if row and row[0]:
                return
            time.sleep(0.05)
    raise AssertionError("server A never held the upload")


def test_two_servers_share_one_submission(env: Env, pair: Pair) -> None:
    token = invite(env, pair, "W1")
    on_a, on_b = TusClient(pair.a.port, token), TusClient(pair.b.port, token)

    # Revoked through the shared records: refused on both servers.
    other = invite(env, pair, "W2")
    assert TusClient(pair.a.port, other).create(10, "x").status == 201
    result = env.run(
        "intake", "revoke", "--data", env.tmp / "officer", "W2", *pair.shared, env=pair.aws
    )
    assert result.exit_code == 0, result.output
    assert TusClient(pair.a.port, other).create(10, "y").status == 403
    assert TusClient(pair.b.port, other).create(10, "y").status == 403

    # Started on A, interrupted mid-part, resumed on B from the offset A recorded.
    first = os.urandom(900_000)
    r = on_a.create(len(first), "photo.jpg", hashlib.sha256(first).hexdigest())
    assert r.status == 201
    loc = r.headers["location"]
    assert on_a.patch(loc, 0, first[:300_000]).status == 204
    on_a.partial_patch(loc, 300_000, first[300_000:500_000], declared=600_000)
    at = on_b.offset(loc)
    assert 300_000 <= at <= 500_000
    # A bad chunk on B: 460, and nothing of it counts on either server.
    r = on_b.patch(loc, at, first[at : at + 50_000], checksum=hashlib.sha256(b"x").digest())
    assert r.status == 460
    assert on_a.offset(loc) == at
    r = on_b.patch(loc, at, first[at:])
    assert r.status == 204 and r.headers["upload-offset"] == str(len(first))

    # A second file: A is writing a part when it is killed; B holds off while A
    # holds the upload (423), then goes on from the last offset recorded.
    second = os.urandom(1_500_000)
    r = on_b.create(len(second), "video.mp4", hashlib.sha256(second).hexdigest())
    loc2 = r.headers["location"]
    assert on_a.patch(loc2, 0, second[:400_000]).status == 204
    sock = hold_open_patch(
        pair.a.port, token, loc2, 400_000, second[400_000:700_000], len(second) - 400_000
    )
    try:
        wait_for_row_lock(pair.shared[5])
        busy = on_b.request(
            "PATCH",
            loc2,
            second[400_000:500_000],
            {"Content-Type": "application/offset+octet-stream", "Upload-Offset": "400000"},
        )
        assert busy.status == 423
        pair.a.stop(signal.SIGKILL)
    finally:
        sock.close()
    assert on_b.offset(loc2) == 400_000
    r = on_b.patch(loc2, 400_000, second[400_000:])
    assert r.status == 204 and r.headers["upload-offset"] == str(len(second))
    # The whole-file digest is still checked after a move: a wrong one is discarded.
    r = on_b.create(1000, "x.bin", "0" * 64)
    assert on_b.patch(r.headers["location"], 0, b"y" * 1000).status == 460
    assert on_b.offset(r.headers["location"]) == 0


def test_finish_on_another_server_makes_a_whole_bundle(env: Env, pair: Pair) -> None:
    token = invite(env, pair, "W3")
    on_a, on_b = TusClient(pair.a.port, token), TusClient(pair.b.port, token)
    files = [os.urandom(700_000), b"chat export\n" * 20_000]
    on_a.upload(files[0], "a.jpg", chunk=256 * 1024)
    on_b.upload(files[1], "chat.zip", chunk=100_000)
    assert on_a.finish().status == 202
    doc = on_b.wait_receipt()
    assert doc["state"] == "ingested", (env.tmp / "serve-a.log").read_text()
    assert on_a.request("GET", "/api/receipt").json()["code"] == doc["code"]
    result = env.run(
        "intake", "list", "--data", env.tmp / "officer", "--json", *pair.shared, env=pair.aws
    )
    assert result.exit_code == 0, result.output
    listing = json.loads(result.stdout)
    validate("intake-list", listing)
    row = next(r for r in listing["submissions"] if r["ref"] == "W3")
    assert row["state"] == "ingested" and row["files"] == 2 and row["bytes"] == sum(map(len, files))
    bundle = Path(row["bundle"])
    assert (bundle / "data" / "files" / "001.jpg").read_bytes() == files[0]
    assert (bundle / "data" / "files" / "002.zip").read_bytes() == files[1]
    assert env.run("verify", bundle).exit_code == 0
    # The upload objects go once the bundle holds the bytes.
    keys = [
        o["Key"]
        for o in pair_client(pair).list_objects_v2(Bucket=pair.bucket).get("Contents", [])
        if "/uploads/" in o["Key"]
    ]
    assert not [k for k in keys if row["id"] in k]


def pair_client(pair: Pair) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=pair.shared[3],
        aws_access_key_id=pair.aws["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=pair.aws["AWS_SECRET_ACCESS_KEY"],
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}),
    )


def test_behind_nginx_as_docs_intake_md_says(env: Env, pair: Pair, tmp_path: Path) -> None:
    """The nginx upstream of docs/intake.md in front of both servers (its
    requests spread over them, round robin): a file sent in six parts arrives whole."""
    import re
    import shutil
    import subprocess

    from conftest import REPO
    from intake_server import free_port

    nginx = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if nginx is None:
        pytest.skip("nginx is not installed")
    text = (REPO / "docs" / "intake.md").read_text()
    section = text.split("### Several servers: S3 and PostgreSQL", 1)[1]
    conf = re.search(r"```nginx\n(.*?)```", section, re.S)
    assert conf
    upstream = re.search(r"upstream custody_intake \{.*?\n\}", conf.group(1), re.S)
    location = re.search(r"    location / \{.*?\n    \}", conf.group(1), re.S)
    assert upstream and location
    port = free_port()
    prefix = tmp_path / "nginx"
    (prefix / "logs").mkdir(parents=True)
    ups = upstream.group(0).replace("127.0.0.1:8401", f"127.0.0.1:{pair.a.port}")
    ups = ups.replace("127.0.0.1:8402", f"127.0.0.1:{pair.b.port}")
    (prefix / "nginx.conf").write_text(
        f"""worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/logs/error.log;
events {{ worker_connections 64; }}
http {{
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    {ups}
    server {{
        listen 127.0.0.1:{port};
        access_log off;
        client_max_body_size 64m;
        proxy_request_buffering off;
        proxy_buffering off;
    {location.group(0)}
    }}
}}
"""
    )
    proc = subprocess.Popen(
        [nginx, "-p", str(prefix), "-c", str(prefix / "nginx.conf"), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                assert proc.poll() is None, (prefix / "logs" / "error.log").read_text()
                time.sleep(0.05)
        token = invite(env, pair, "W4")
        through = TusClient(port, token)
        data = os.urandom(600_000)
        loc = through.upload(data, "clip.mp4", chunk=100_000)  # six parts, both servers
        assert through.offset(loc) == len(data)
        files = through.request("GET", "/api/status").json()["files"]
        assert files[0]["sha256"] == hashlib.sha256(data).hexdigest()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_the_database_defaults_to_the_team_s(env: Env, pair: Pair) -> None:
    """Without --database, the intake uses the PostgreSQL of `custody team join`
    (the team log and the intake live side by side in one database)."""
    store = ("--store", pair.store, "--endpoint-url", pair.shared[3])
    lead = Env(home=env.tmp / "lead", tmp=env.tmp)
    assert lead.run("keygen", "--name", "Lead").exit_code == 0
    result = lead.run("intake", "list", "--data", env.tmp / "x", *store, env=pair.aws)
    assert result.exit_code == 2 and "custody team join" in result.output
    result = lead.run("team", "init", "--database", pair.shared[5], "--name", "War Crimes Team")
    assert result.exit_code == 0, result.output
    result = lead.run("intake", "list", "--data", env.tmp / "x", "--json", *store, env=pair.aws)
    assert result.exit_code == 0, result.output
    assert [r["ref"] for r in json.loads(result.stdout)["submissions"]] == ["W0"]
    result = lead.run("intake", "list", "--data", env.tmp / "x", "--database", pair.shared[5])
    assert result.exit_code == 2 and "--store" in result.output


def test_an_altered_object_fails_the_finish_and_nothing_is_ingested(env: Env, pair: Pair) -> None:
    token = invite(env, pair, "W5")
    on_a = TusClient(pair.a.port, token)
    data = os.urandom(300_000)
    on_a.upload(data, "a.jpg", chunk=100_000)
    s3 = pair_client(pair)
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=pair.bucket).get("Contents", []))
    assert len(keys) == 3 and all("/part-" in k for k in keys)
    body = s3.get_object(Bucket=pair.bucket, Key=keys[1])["Body"].read()
    s3.put_object(Bucket=pair.bucket, Key=keys[1], Body=bytes([body[0] ^ 1]) + body[1:])
    assert on_a.finish().status == 202
    doc = on_a.wait_receipt()
    assert doc["state"] == "failed"
    result = env.run(
        "intake", "list", "--data", env.tmp / "officer", "--json", *pair.shared, env=pair.aws
    )
    row = next(r for r in json.loads(result.stdout)["submissions"] if r["ref"] == "W5")
    assert row["state"] == "failed" and row["bundle"] is None
    for server in ("a", "b"):
        folder = env.tmp / f"intake-{server}"
        assert not list((folder / "bundles").glob("*/bagit.txt"))
        assert not list(folder.glob("submissions/*/staging/files/*"))


def test_limits_hold_across_servers_creating_at_once(env: Env, pair: Pair) -> None:
    """Six creations at once, three on each server, for an invitation of two
    files: exactly two are made, the others refused (413), numbered 1 and 2."""
    from concurrent.futures import ThreadPoolExecutor

    token = invite(env, pair, "W6", "--max-files", "2")
    clients = [TusClient(port, token) for port in (pair.a.port, pair.b.port) * 3]
    with ThreadPoolExecutor(len(clients)) as pool:
        statuses = sorted(pool.map(lambda c: c.create(10, "f.txt").status, clients))
    assert statuses == [201, 201, 413, 413, 413, 413]
    files = clients[0].request("GET", "/api/status").json()["files"]
    assert [f["number"] for f in files] == [1, 2]
